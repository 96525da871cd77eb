"""``slipway ci retrain`` on the local forge: refusals first, then the JSON of what it did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ci_support import make_git_repo
from typer.testing import CliRunner

from ci.forge.local import LocalForge
from slipway.cli.app import app

DRIFT = {
    "feature_name": "conv_rate",
    "constraint_check_type": "baseline_drift_check",
    "description": "distance 0.31 > 0.1",
}


def result(path: Path, *violations: dict[str, str], status: str | None = None) -> Path:
    doc = {
        "status": status or ("CompletedWithViolations" if violations else "Completed"),
        "window": {"requests": 5, "first_inference_time": "a", "last_inference_time": "b"},
        "violations": list(violations),
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def retrain(repo: Path, path: Path, *extra: str) -> Any:
    args = ["ci", "retrain", "--env", "prod", "--model", "driver_ranking", "--result", str(path)]
    return CliRunner().invoke(
        app, [*args, "--forge", "local", "--repo-dir", str(repo), "--format", "json", *extra]
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_OUTPUT", "GITHUB_RUN_ID", "SLIPWAY_FORGE"):
        monkeypatch.delenv(name, raising=False)
    return make_git_repo(tmp_path / "repo")


def test_a_file_that_is_not_a_result_fails_and_touches_nothing(repo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "monitor.json"
    bad.write_text('{"rows": 3}', encoding="utf-8")
    done = retrain(repo, bad)
    assert done.exit_code == 1
    assert "not a monitoring result" in str(done.exception) + done.output
    assert LocalForge(repo=repo).list_issues() == []


def test_violations_then_a_clean_run(repo: Path, tmp_path: Path) -> None:
    bad = result(tmp_path / "bad.json", DRIFT)
    first = retrain(repo, bad, "--report-url", "https://ci.example/a/1")
    assert first.exit_code == 0, first.output
    opened = json.loads(first.output)
    assert opened["action"] == "requested"
    assert (opened["pr_action"], opened["issue_action"]) == ("created", "created")
    assert opened["branch"] == "slipway/retrain-driver_ranking"
    assert opened["committed"] is True
    assert opened["violations"] == ["baseline_drift_check: conv_rate"]
    second = json.loads(retrain(repo, bad, "--report-url", "https://ci.example/a/1").output)
    assert (second["pr"], second["issue"]) == (opened["pr"], opened["issue"])
    assert (second["pr_action"], second["issue_action"], second["committed"]) == (
        "unchanged",
        "unchanged",
        False,
    )
    clean = json.loads(retrain(repo, result(tmp_path / "ok.json")).output)
    assert (clean["action"], clean["issue"], clean["pr_state"]) == (
        "closed",
        opened["issue"],
        "open",
    )
    forge = LocalForge(repo=repo)
    assert [i.state for i in forge.list_issues()] == ["closed"]
