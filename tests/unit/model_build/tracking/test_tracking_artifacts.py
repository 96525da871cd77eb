"""What the MLflow tracker logs of a run folder, read back through ``MlflowClient``.

Every artifact of issue 15 (evaluation report, gate verdict, bias report, validation results,
training-set summary, plots, SHAP report with importance and dependence plots, monitoring
baseline), more parameters and metrics than one MLflow request takes, and MLflow imported only
once a run is tracked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from model_build.tracking.mlflow_tracker import MlflowTracker
from model_build.tracking.record import ARTIFACTS, NO_TRACKING, BuildRecord, flatten

ROOT = Path(__file__).resolve().parents[4]
COMMIT = "1234567890abcdef1234567890abcdef12345678"


def _run_folder(root: Path) -> Path:
    """A run folder holding every artifact a build can write, and a bundle folder."""
    folder = root / "run-1"
    for name in ("evaluation.json", "gate.json", "bias.json", "validation.json"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps({"file": name}))
    (folder / "training_set.json").write_text('{"rows": 10}')
    for name in (
        "plots/roc.png",
        "explanations/explanations.json",
        "explanations/shap_importance.png",
        "explanations/shap_dependence_conv_rate.png",
        "baseline/statistics.json",
        "baseline/constraints.json",
        "baseline/baseline.json",
        "baseline/reference.parquet",
    ):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode())
    (folder / "run.json").write_text("{}")  # not an artifact: the summary stays local
    bundle = folder / "bundle"
    bundle.mkdir()
    (bundle / "MLmodel").write_text("flavors: {}\n")
    (bundle / "model.pkl").write_bytes(b"pickle")
    return folder


def _record(folder: Path, **changes: object) -> BuildRecord:
    definition = {"name": "toy", "train": {"hyperparameters": {f"p{i}": i for i in range(140)}}}
    values: dict[str, object] = {
        "model_name": "toy",
        "run_name": "run-1",
        "status": "registered",
        "params": flatten(definition),
        "metrics": {f"m{i}": i / 10 for i in range(130)} | {"bias.disparate_impact": 0.9},
        "tags": {"mlflow.source.git.commit": COMMIT, "slipway.model_name": "toy"},
        "run_folder": folder,
        "bundle_dir": folder / "bundle",
    }
    values.update(changes)
    return BuildRecord(**values)  # type: ignore[arg-type]


def _files(tracker: MlflowTracker, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for entry in tracker.client.list_artifacts(run_id, path):
        found |= _files(tracker, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


# --- failure paths -----------------------------------------------------------------------------


def test_a_failed_build_is_a_failed_run_without_a_model(
    tracker: MlflowTracker, tmp_path: Path
) -> None:
    folder = tmp_path / "failed"
    folder.mkdir()
    (folder / "validation.json").write_text('{"passed": false}')
    link = tracker.log_build(_record(folder, status="failed", bundle_dir=None, metrics={}))
    assert link.model_uri == ""
    run = tracker.client.get_run(link.run_id)
    assert (run.info.status, run.data.tags["slipway.status"]) == ("FAILED", "failed")
    assert _files(tracker, link.run_id) == {"validation.json"}


def test_more_params_and_metrics_than_one_request_takes_are_all_logged(
    tracker: MlflowTracker, tmp_path: Path
) -> None:
    record = _record(_run_folder(tmp_path))
    assert len(record.params) > 100
    assert len(record.metrics) > 100  # MLflow takes 100 params per log_batch call
    run = tracker.client.get_run(tracker.log_build(record).run_id)
    assert run.data.params == record.params
    assert run.data.metrics == record.metrics


# --- what a run holds --------------------------------------------------------------------------


def test_every_artifact_of_the_run_folder_and_the_bundle_are_logged(
    tracker: MlflowTracker, tmp_path: Path
) -> None:
    folder = _run_folder(tmp_path)
    link = tracker.log_build(_record(folder))
    logged = _files(tracker, link.run_id)
    expected = {
        str(path.relative_to(folder))
        for name in ARTIFACTS
        for path in ([folder / name] if (folder / name).is_file() else (folder / name).rglob("*"))
        if path.is_file()
    }
    assert logged == expected
    assert {"bias.json", "validation.json", "training_set.json", "baseline/constraints.json"} <= (
        logged
    )
    assert "explanations/shap_dependence_conv_rate.png" in logged
    assert "run.json" not in logged
    assert link.model_uri.startswith("models:/m-")
    from mlflow.entities import LoggedModelStatus

    model = tracker.client.get_logged_model(link.model_uri.removeprefix("models:/"))
    assert model.source_run_id == link.run_id
    assert model.status == LoggedModelStatus.READY
    run = tracker.client.get_run(link.run_id)
    assert run.data.tags["mlflow.source.git.commit"] == COMMIT
    assert run.info.status == "FINISHED"


def test_mlflow_is_imported_only_when_a_run_is_tracked(tmp_path: Path) -> None:
    probe = f"""
import sys
from pathlib import Path
from model_build.pipeline import local_runner  # noqa: F401
from model_build.settings import BuildSettings
from model_build.tracking.store import open_tracker
tracker = open_tracker(BuildSettings(tracking_dir=Path({str(tmp_path)!r})))
print("before", "mlflow" in sys.modules)
tracker.client
print("after", "mlflow" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["before", "False", "after", "True"]
    assert NO_TRACKING.log_build(_record(tmp_path)) is None
