"""A build declaring a sensitive attribute: bias metrics, bounds and SHAP plots in its run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from build_kits import definition_doc, training_set, write_model

from model_build.definition.loader import load_definition
from model_build.errors import GateFailedError
from model_build.pipeline.local_runner import BuildResult, run_training_set
from model_build.pipeline.steps.gate import NoServingModel
from model_build.registry.local import LocalRegistry
from model_build.tracking.mlflow_tracker import MlflowTracker
from model_deploy.evidence import Evidence

pytestmark = pytest.mark.slow

NONE = NoServingModel(reason="no serving version in this test")


def _build(
    root: Path, tracker: MlflowTracker, bias: dict[str, Any], *, task: str = "binary"
) -> BuildResult:
    document = definition_doc(task)
    document["bias"] = bias
    document["explain"] = {"dependence_plots": 2}
    return run_training_set(
        definition=load_definition(path=write_model(root / "models", document)),
        training_set=training_set(task),
        registry=LocalRegistry(root / "registry"),
        run_dir=root / "runs",
        serving=NONE,
        git_commit="0" * 40,
        tracker=tracker,
    )


def _files(tracker: MlflowTracker, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for entry in tracker.client.list_artifacts(run_id, path):
        found |= _files(tracker, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


def test_a_missed_bias_bound_blocks_the_build_and_the_run_keeps_the_metrics(
    tmp_path: Path, tracker: MlflowTracker
) -> None:
    bias = {
        "attribute": "segment",
        "facet": ["plus"],
        "thresholds": {"class_imbalance": {"min": 0.99}},
    }
    with pytest.raises(GateFailedError, match="class_imbalance"):
        _build(tmp_path, tracker, bias)
    assert LocalRegistry(tmp_path / "registry").list_models() == []
    (run,) = tracker.client.search_runs([tracker.experiment_id("toy_binary")])
    assert (run.info.status, run.data.tags["slipway.status"]) == ("FAILED", "blocked")
    assert "bias.class_imbalance" in run.data.metrics
    assert "bias.json" in _files(tracker, run.info.run_id)


def test_bias_metrics_bounds_and_shap_plots_reach_the_run_the_version_and_the_plan(
    tmp_path: Path, tracker: MlflowTracker
) -> None:
    bounds = {"disparate_impact": {"min": 0.0, "max": 100.0}}
    result = _build(
        tmp_path, tracker, {"attribute": "segment", "facet": ["plus"], "thresholds": bounds}
    )
    assert result.version is not None
    assert result.tracking is not None
    record = result.version.bias
    assert record is not None
    assert (record.attribute, record.facet, record.passed) == ("segment", ["plus"], True)
    assert record.limits == {"disparate_impact": {"min": 0.0, "max": 100.0}}
    run = tracker.client.get_run(result.tracking.run_id)
    logged = {
        k.removeprefix("bias."): v for k, v in run.data.metrics.items() if k.startswith("bias.")
    }
    assert logged == {k: v for k, v in record.metrics.items() if v is not None}
    assert set(record.metrics) == {
        "class_imbalance", "label_proportion_difference", "disparate_impact",
        "positive_rate_difference", "equal_opportunity_difference",
    }  # fmt: skip
    files = _files(tracker, result.tracking.run_id)
    dependence = {f for f in files if f.startswith("explanations/shap_dependence_")}
    assert len(dependence) == 2
    assert {"bias.json", "explanations/shap_importance.png"} <= files
    evidence = Evidence.of(result.version)
    assert (evidence.bias, evidence.tracking) == (record, result.tracking)


def test_a_multiclass_build_measures_bias_on_its_predicted_labels(
    tmp_path: Path, tracker: MlflowTracker
) -> None:
    bias = {"attribute": "segment", "facet": ["plus"], "positive": ["high"]}
    result = _build(tmp_path, tracker, bias, task="multiclass")
    assert result.version is not None
    record = result.version.bias
    assert record is not None
    assert (record.limits, record.passed) == ({}, None)  # no bound declared: nothing to pass
    assert all(v is not None for v in record.metrics.values())
    assert record.metrics["disparate_impact"] is not None
    assert result.tracking is not None
    metrics = tracker.client.get_run(result.tracking.run_id).data.metrics
    assert metrics["bias.disparate_impact"] == record.metrics["disparate_impact"]
