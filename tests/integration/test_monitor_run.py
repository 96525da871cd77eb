"""``slipway monitor run`` end to end on a local deployment: clean, shifted, labelled windows.

The project (:mod:`kits.monitor_project`) has ``dev/driver_ranking`` on a local target,
``driver_ranking:1`` registered with a baseline of the synthetic driver data; traffic is
written where the local router writes it (SageMaker's layout), or as an inference server
with ``--capture-dir`` writes it beside, with inference ids. The command runs as a user runs
it (a subprocess) for the verdicts; its JSON is what ``slipway ci retrain`` reads.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kits.monitor_project import Project, make_project, router_lines, sagemaker_records
from sklearn import metrics

from ci.retrain_input import load_findings
from model_monitor.capture import hour_folder, variant_folder
from model_monitor.simulate import IMPORTANT

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 30, 8, tzinfo=UTC)
WINDOW = ("--since", "2026-11-30T08:00:00Z", "--until", "2026-11-30T09:00:00Z")


def _slipway(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **project.env, "GX_ANALYTICS_ENABLED": "false", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "slipway", *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path_factory.mktemp("monitor-run"), metrics={"roc_auc": 0.99})


def _run(project: Project, out: Path) -> tuple[int, dict[str, Any], str]:
    done = _slipway(
        project, "monitor", "run", "dev", "--model", "driver_ranking", *WINDOW,
        "--out", str(out), "--format", "json",
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout), done.stderr


def _retrain(project: Project, result: Path, *, repo: Path) -> dict[str, Any]:
    """``slipway ci retrain`` on the run's JSON, against a local forge in a fresh git repo."""
    repo.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "dev@example.com"],
        ["config", "user.name", "Dev"],
        ["config", "commit.gpgsign", "false"],
        ["commit", "-q", "--allow-empty", "-m", "initial"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    done = _slipway(
        project, "ci", "retrain", "--env", "dev", "--model", "driver_ranking",
        "--result", str(result), "--forge", "local", "--repo-dir", str(repo), "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_an_in_distribution_window_exits_0(project: Project, tmp_path: Path) -> None:
    project.clear_capture()
    router_lines(project.capture_root, rows=2000, seed=11, start=START)
    code, doc, err = _run(project, tmp_path)
    assert code == 0, err
    assert doc["status"] == "Completed"
    assert doc["violations"] == []
    assert doc["window"]["requests"] == 2000
    assert doc["version"] == "driver_ranking:1"
    for name in ("constraint_violations.json", "report.html", "summary.json", "statistics.json"):
        assert (tmp_path / name).is_file(), name
    (tmp_path / "monitor.json").write_text(json.dumps(doc))
    findings = load_findings(tmp_path / "monitor.json", env="dev", model="driver_ranking")
    assert findings.conclusive
    assert not findings.violated
    assert findings.version == "driver_ranking:1"


def test_a_shifted_window_exits_1_naming_the_feature(project: Project, tmp_path: Path) -> None:
    project.clear_capture()
    router_lines(project.capture_root, rows=2000, seed=12, start=START, shift={IMPORTANT: 0.5})
    code, doc, err = _run(project, tmp_path)
    assert code == 1, err
    assert doc["status"] == "CompletedWithViolations"
    assert IMPORTANT in doc["drifted_columns"]
    assert set(doc["drifted_columns"]) - {"prediction", "predicted_label"} == {IMPORTANT}
    written = json.loads((tmp_path / "constraint_violations.json").read_text())
    assert {"feature_name": IMPORTANT, "constraint_check_type": "baseline_drift_check"}.items() <= (
        next(v for v in written["violations"] if v["feature_name"] == IMPORTANT).items()
    )
    (tmp_path / "monitor.json").write_text(json.dumps(doc))
    findings = load_findings(tmp_path / "monitor.json", env="dev", model="driver_ranking")
    assert findings.violated
    assert f"baseline_drift_check: {IMPORTANT}" in findings.keys
    retrain = _retrain(project, tmp_path / "monitor.json", repo=tmp_path / "repo")
    assert retrain["action"] == "requested"
    assert f"baseline_drift_check: {IMPORTANT}" in retrain["violations"]
    text = _slipway(
        project, "monitor", "run", "dev", "--model", "driver_ranking", *WINDOW,
        "--out", str(tmp_path / "text"),
    )  # fmt: skip
    assert text.returncode == 1
    assert IMPORTANT in text.stdout
    assert "verdict: CompletedWithViolations" in text.stdout
    assert f"report: {tmp_path / 'text' / 'report.html'}" in text.stdout


def test_labels_joined_by_inference_id_give_sklearn_metrics(
    project: Project, tmp_path: Path
) -> None:
    project.clear_capture()
    records, scores = sagemaker_records(rows=1500, seed=13, start=START)
    root = project.capture_root  # an inference server's own capture beside the router's
    folder = hour_folder(variant_folder(root, endpoint="local", variant="AllTraffic"), START)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "00-00-000-capture.jsonl").write_bytes(b"".join(r.encode() for r in records))
    rng = np.random.default_rng(5)
    truth = (rng.random(len(scores)) < scores).astype(int)
    labelled = np.sort(rng.choice(len(scores), 1200, replace=False))
    labels = tmp_path / "labels.csv"
    labels.write_text("inference_id,label\n" + "".join(f"req-{i},{truth[i]}\n" for i in labelled))
    ingest = _slipway(
        project, "monitor", "labels", "dev", "--model", "driver_ranking",
        "--file", str(labels), "--format", "json",
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["written"] == 1200
    code, doc, err = _run(project, tmp_path / "run")
    quality = doc["model_quality"]
    assert quality["labelled_rows"] == 1200, doc["warnings"]
    y, s = truth[labelled], scores[labelled]
    predicted = (s >= 0.5).astype(int)
    expected = {
        "roc_auc": metrics.roc_auc_score(y, s),
        "log_loss": metrics.log_loss(y, s, labels=[0, 1]),
        "accuracy": metrics.accuracy_score(y, predicted),
        "precision": metrics.precision_score(y, predicted),
        "recall": metrics.recall_score(y, predicted),
        "f1": metrics.f1_score(y, predicted),
    }
    for name, value in expected.items():
        assert math.isclose(quality["metrics"][name], value, rel_tol=0, abs_tol=1e-9), name
    assert quality["registered"] == {"roc_auc": 0.99}
    assert [v["metric_name"] for v in quality["violations"]] == ["roc_auc"]  # far below 0.99
    assert code == 1, err
    assert (tmp_path / "run" / "model_quality_violations.json").is_file()


def test_every_deployment_of_the_environment_without_model(
    project: Project, tmp_path: Path
) -> None:
    project.clear_capture()
    router_lines(project.capture_root, rows=300, seed=14, start=START + timedelta(minutes=1))
    done = _slipway(project, "monitor", "run", "dev", *WINDOW, "--out", str(tmp_path), "-f", "json")
    assert done.returncode in (0, 1), done.stderr
    (only,) = json.loads(done.stdout)["results"]
    assert only["deployment"] == "dev/driver_ranking"
    assert (tmp_path / "dev" / "driver_ranking" / "report.html").is_file()
