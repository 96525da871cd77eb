"""The monitoring baseline a build writes, logs and registers with the version.

Every task: the run folder's ``baseline/`` holds Model Monitor's ``statistics.json`` and
``constraints.json`` (plus Slipway's manifest and the reference sample) that
``model_monitor.baseline.load_baseline`` reads, the features in the model's input order then the
prediction columns; both registries return the same bytes; a rebuild gives byte-identical files
and the same bundle digest; a frame that cannot be baselined registers without one, with a
warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from build_kits import INFO, toy_definition, training_set
from registry_fakes import InMemoryRegistry

from model_build.pipeline.local_runner import BuildResult, run_training_set
from model_build.pipeline.steps.gate import NoServingModel
from model_build.pipeline.steps.training_set import TrainingSet
from model_build.registry.baselines import BASELINE_FILES
from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import ModelRegistry
from model_bundle.bundle import load_bundle
from model_bundle.scoring import predict_columns
from model_monitor.baseline import load_baseline

pytestmark = pytest.mark.slow  # every test trains a model (the end-to-end one also serves it)

NONE = NoServingModel(reason="first build")
TASKS = ("binary", "multiclass", "regression")


def _build(
    root: Path, task: str, registry: ModelRegistry, *, frame: TrainingSet | None = None
) -> BuildResult:
    definition = toy_definition(root / "models", task)
    return run_training_set(
        definition=definition,
        training_set=frame or training_set(task, rows=600),
        registry=registry,
        run_dir=root / "runs",
        serving=NONE,
        git_commit="0" * 40,
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in BASELINE_FILES}


@pytest.mark.parametrize("task", TASKS)
def test_a_build_writes_a_loadable_baseline_of_every_task(tmp_path: Path, task: str) -> None:
    result = _build(tmp_path, task, InMemoryRegistry())
    folder = result.run_dir / "baseline"
    assert result.monitoring_baseline == folder
    baseline = load_baseline(directory=folder)
    inputs = INFO.inputs
    classifier = task != "regression"
    predictions = ["prediction", "predicted_label"] if classifier else ["prediction"]
    assert [c.name for c in baseline.schema.columns] == [*inputs, *predictions]
    assert baseline.schema.task.value == ("classification" if classifier else "regression")
    assert baseline.rows == 600
    statistics = json.loads((folder / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 600
    kinds = {f["name"]: f["inferred_type"] for f in statistics["features"]}
    assert kinds["segment"] == "String"
    assert kinds["x1"] == "Fractional"
    assert kinds["x2"] == "Integral"
    assert kinds["prediction"] == "Fractional"
    by_name = {f["name"]: f for f in statistics["features"]}
    assert len(by_name["x1"]["numerical_statistics"]["distribution"]["kll"]["buckets"]) == 10
    constraints = json.loads((folder / "constraints.json").read_text())
    segment = next(f for f in constraints["features"] if f["name"] == "segment")
    assert sorted(segment["string_constraints"]["domains"]) == ["business", "plus", "standard"]
    assert segment["completeness"] < 1  # every 97th segment is missing
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"]
    # The prediction distribution is the bundle's answer on the training rows, as served.
    bundle = load_bundle(directory=result.run_dir / "bundle")
    answer = predict_columns(bundle, training_set(task, rows=600).frame)
    score = by_name["prediction"]["numerical_statistics"]
    if task == "binary":
        expected = answer["probability"]
    elif task == "multiclass":
        expected = np.max(np.column_stack([answer[f"p_{c}"] for c in bundle.classes or []]), axis=1)
        labels = by_name["predicted_label"]["string_statistics"]["distribution"]
        counted = {b["value"]: b["count"] for b in labels["categorical"]["buckets"]}
        assert counted == {
            str(k): int(v)
            for k, v in zip(
                *np.unique(answer["label"].astype(str), return_counts=True), strict=True
            )
        }
    else:
        expected = answer["prediction"]
    assert score["mean"] == pytest.approx(float(np.mean(expected)), rel=1e-9)
    assert score["min"] == pytest.approx(float(np.min(expected)), rel=1e-9)
    summary = json.loads((result.run_dir / "run.json").read_text())
    assert summary["monitoring_baseline"]["rows"] == 600
    assert "baseline" in summary["timings"]


@pytest.mark.parametrize("kind", ["local", "in-memory"])
def test_the_registered_version_carries_the_baseline(tmp_path: Path, kind: str) -> None:
    registry: ModelRegistry = (
        LocalRegistry(tmp_path / "registry") if kind == "local" else InMemoryRegistry()
    )
    result = _build(tmp_path, "binary", registry)
    assert result.version is not None
    fetched = registry.fetch_baseline(
        model_name="toy_binary", version=result.version.version, directory=tmp_path / "fetched"
    )
    assert fetched is not None
    assert _files(fetched) == _files(result.run_dir / "baseline")
    assert load_baseline(directory=fetched).schema.features == tuple(INFO.inputs)


def test_a_rebuild_gives_byte_identical_baseline_files(tmp_path: Path) -> None:
    registry = InMemoryRegistry()
    first = _build(tmp_path / "a", "multiclass", registry)
    again = _build(tmp_path / "b", "multiclass", registry)
    assert first.artifact_digest == again.artifact_digest
    assert _files(first.run_dir / "baseline") == _files(again.run_dir / "baseline")


def test_a_frame_that_cannot_be_baselined_registers_without_one(tmp_path: Path) -> None:
    """A feature named like a prediction column: a warning, and the version has no baseline."""
    from dataclasses import replace

    base = training_set("binary", rows=600)
    frame = base.frame.rename(columns={"x1": "prediction"})
    info = replace(INFO, features=["prediction", "x2", "segment"])
    renamed = replace(base, frame=frame, info=info)
    registry = InMemoryRegistry()
    result = _build(tmp_path, "binary", registry, frame=renamed)
    assert result.status == "registered"
    assert result.version is not None
    assert not (result.run_dir / "baseline").exists()
    assert result.monitoring_baseline is None
    (warning,) = [w for w in result.warnings if "baseline" in w]
    assert "no monitoring baseline" in warning
    assert "prediction" in warning
    got = registry.fetch_baseline(model_name="toy_binary", version=1, directory=tmp_path / "x")
    assert got is None


def test_the_sagemaker_evaluate_job_writes_the_same_baseline(tmp_path: Path) -> None:
    """The pipeline's Evaluate job baselines what the local build baselines, byte for byte."""
    from model_build.pipeline.steps.training_set import save_training_set
    from model_build.sagemaker.jobs import evaluate_job

    result = _build(tmp_path, "regression", InMemoryRegistry())
    saved = save_training_set(training_set("regression", rows=600), directory=tmp_path / "ts")
    evaluate_job(
        model_path=result.run_dir / "bundle",
        training_set_dir=saved,
        definition_path=tmp_path / "models" / "toy_regression" / "model.yaml",
        out_dir=tmp_path / "evaluation",
    )
    assert _files(tmp_path / "evaluation" / "baseline") == _files(result.run_dir / "baseline")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_traffic_like_the_training_set_has_no_violations_against_the_registered_baseline(
    tmp_path: Path, task: str
) -> None:
    """Build, register, serve with capture, monitor: the loop end to end on unchanged data."""
    from datetime import UTC, datetime, timedelta

    from fastapi.testclient import TestClient

    from model_monitor.frame import load_window
    from model_monitor.reader import capture_files
    from model_monitor.report import MonitorConfig, run_monitor
    from model_monitor.writer import CaptureWriter
    from services.inference.server import create_inference_app

    registry = InMemoryRegistry()
    result = _build(tmp_path, task, registry)
    folder = registry.fetch_baseline(
        model_name=f"toy_{task}", version=1, directory=tmp_path / "fetched"
    )
    assert folder is not None
    baseline = load_baseline(directory=folder)
    fresh = training_set(task, rows=400, seed=11).frame[INFO.inputs]
    rows = fresh.astype(object).where(fresh.notna(), None).to_dict(orient="records")
    since = datetime.now(UTC) - timedelta(minutes=1)
    writer = CaptureWriter(destination=tmp_path / "capture", endpoint="toy")
    app = create_inference_app(bundle_dir=result.run_dir / "bundle", capture=writer)
    with TestClient(app) as client:
        for start in range(0, len(rows), 4):
            answer = client.post("/invocations", json={"instances": rows[start : start + 4]})
            assert answer.status_code == 200, answer.text
    until = datetime.now(UTC) + timedelta(minutes=1)
    files = capture_files(
        destination=tmp_path / "capture", endpoint="toy", variant="AllTraffic", since=since,
        until=until,
    )  # fmt: skip
    window = load_window(files=files, schema=baseline.schema, since=since, until=until)
    assert window.requests == 100
    monitored = run_monitor(
        window=window,
        baseline=baseline,
        out_dir=tmp_path / "monitor",
        config=MonitorConfig(evidently_html=False),
    )
    assert [(v.feature_name, v.constraint_check_type) for v in monitored.violations] == []
    assert monitored.status == "Completed"
    assert monitored.warnings == ()
