"""Issue 14 acceptance, retrain PR: two runs with violations make one PR and one issue; a clean
run closes the issue.

The results are real monitoring runs (``model_monitor.report.run_monitor`` on windows drawn
from the training distribution, or with ``conv_rate`` moved by half a standard deviation),
wrapped as ``slipway monitor run --model M --format json`` prints them (``MonitorResult``'s
JSON plus env, model, version, report, freshness), and ``slipway ci retrain`` is the real
command on the local forge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ci_support import make_git_repo
from typer.testing import CliRunner

from ci.forge.local import LocalForge
from ci.retrain import MONITOR_LABEL, RETRAIN_LABEL, retrain_branch, stamp_path
from model_monitor.baseline import Baseline, build_baseline
from model_monitor.columns import (
    EVENT_ID,
    INFERENCE_ID,
    INFERENCE_TIME,
    PREDICTED_LABEL,
    PREDICTION,
    ROW,
)
from model_monitor.report import MonitorConfig, run_monitor
from model_monitor.simulate import IMPORTANT, driver_frame, driver_labels, driver_scores
from slipway.cli.app import app

MODEL = "driver_ranking"


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    frame = driver_frame(20_000, seed=1)
    scores = driver_scores(frame)
    return build_baseline(features=frame, prediction=scores, predicted_label=driver_labels(scores))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_OUTPUT", "GITHUB_RUN_ID", "SLIPWAY_FORGE"):
        monkeypatch.delenv(name, raising=False)
    return make_git_repo(tmp_path / "repo")


def monitor_json(
    baseline: Baseline, folder: Path, *, seed: int, shift: float, hour: int
) -> tuple[Path, dict[str, Any]]:
    """One monitoring run of 2,000 requests, saved as ``slipway monitor run`` JSON."""
    frame = driver_frame(2000, seed=seed, shift={IMPORTANT: shift} if shift else None)
    scores = driver_scores(frame)
    frame[PREDICTION] = scores
    frame[PREDICTED_LABEL] = driver_labels(scores).astype(float)
    frame[EVENT_ID] = [f"e-{seed}-{i}" for i in range(len(frame))]
    frame[INFERENCE_ID] = None
    frame[INFERENCE_TIME] = f"2026-03-01T{hour:02d}:00:00Z"
    frame[ROW] = 0
    out = folder / f"run-{seed}"
    result = run_monitor(
        baseline=baseline, out_dir=out, frame=frame, config=MonitorConfig(evidently_html=False)
    )
    doc = {
        "env": "prod",
        "model": MODEL,
        "deployment": f"prod/{MODEL}",
        "version": f"{MODEL}:3",
        "report": str(result.files["html"]),
        "freshness": None,
        **result.to_json(),
    }
    path = folder / f"monitor-{seed}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path, doc


def retrain(repo: Path, result: Path, report: str) -> dict[str, Any]:
    done = CliRunner().invoke(
        app,
        [
            "ci", "retrain", "--env", "prod", "--model", MODEL, "--result", str(result),
            "--report-url", report, "--forge", "local", "--repo-dir", str(repo),
            "--format", "json",
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    out: dict[str, Any] = json.loads(done.output)
    return out


def test_two_runs_with_violations_make_one_pr_and_one_issue_and_a_clean_run_closes_it(
    baseline: Baseline, repo: Path, tmp_path: Path
) -> None:
    first_file, first_doc = monitor_json(baseline, tmp_path, seed=11, shift=0.5, hour=0)
    second_file, second_doc = monitor_json(baseline, tmp_path, seed=12, shift=0.5, hour=6)
    clean_file, clean_doc = monitor_json(baseline, tmp_path, seed=13, shift=0.0, hour=12)
    for doc in (first_doc, second_doc):
        assert doc["status"] == "CompletedWithViolations"
        assert IMPORTANT in doc["drifted_columns"]
    assert clean_doc["status"] == "Completed"
    assert clean_doc["violations"] == []

    first = retrain(repo, first_file, "https://ci.example/artifacts/1")
    second = retrain(repo, second_file, "https://ci.example/artifacts/2")
    assert first["action"] == second["action"] == "requested"
    assert (first["pr_action"], first["issue_action"]) == ("created", "created")
    assert (second["pr"], second["issue"]) == (first["pr"], first["issue"])
    assert second["pr_action"] in ("updated", "unchanged")
    forge = LocalForge(repo=repo)
    prs = forge.list_prs()
    issues = [i for i in forge.list_issues() if MONITOR_LABEL in i.labels]
    assert [(p.number, p.head, p.state) for p in prs] == [
        (first["pr"], retrain_branch(MODEL), "open")
    ]
    assert RETRAIN_LABEL in prs[0].labels
    assert [(i.number, i.state) for i in issues] == [(first["issue"], "open")]
    # The issue names the drifted feature and links the second run's window and report.
    body = issues[0].body
    assert IMPORTANT in body
    assert "https://ci.example/artifacts/2" in body
    stamp = json.loads(forge.read_file(path=stamp_path(MODEL), ref=prs[0].head) or "{}")
    assert f"baseline_drift_check: {IMPORTANT}" in stamp["why"]["prod"]["violations"]

    closed = retrain(repo, clean_file, "https://ci.example/artifacts/3")
    assert (closed["action"], closed["issue"], closed["issue_action"]) == (
        "closed",
        first["issue"],
        "closed",
    )
    assert [i.state for i in forge.list_issues() if MONITOR_LABEL in i.labels] == ["closed"]
    assert [p.state for p in forge.list_prs()] == ["open"]  # left for a human to close
    assert len(forge.list_prs()) == 1
