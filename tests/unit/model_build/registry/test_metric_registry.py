"""The metric registry: one direction per metric, used by the gate, compare and (later) plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundation.metrics import (
    METRICS,
    check_metric,
    describe_direction,
    direction,
    format_metric,
    is_better,
    lower_is_better,
    metrics_for,
)
from model_build.registry.compare import compare_metrics
from model_build.registry.local import LocalRegistry
from model_bundle.task import Task


def test_unknown_and_misplaced_metrics_are_named_with_the_task_metrics() -> None:
    assert "unknown metric 'auc'; binary metrics: roc_auc, pr_auc" in str(
        check_metric("auc", task="binary")
    )
    assert "metric 'rmse' is not computed for task multiclass" in str(
        check_metric("rmse", task=Task.MULTICLASS)
    )
    assert "cannot be gated" in str(check_metric("residual_q95", task="regression", gate=True))
    assert check_metric("residual_q95", task="regression") is None
    assert check_metric("f1_macro", task="multiclass") is None
    assert "not computed for task multiclass" in str(check_metric("f1", task="multiclass"))


@pytest.mark.parametrize(
    ("name", "way"),
    [
        ("roc_auc", "higher"), ("pr_auc", "higher"), ("accuracy", "higher"), ("r2", "higher"),
        ("log_loss", "lower"), ("brier", "lower"), ("brier_score", "lower"), ("ece", "lower"),
        ("rmse", "lower"), ("mae", "lower"), ("mape", "lower"),
        ("residual_q50", "none"), ("not_a_metric", "none"),
    ],
)  # fmt: skip
def test_one_direction_per_metric(name: str, way: str) -> None:
    assert direction(name) == way
    assert lower_is_better(name) is (way == "lower")
    assert describe_direction(name) == (
        "no better direction" if way == "none" else f"{way} is better"
    )


def test_rmse_is_lower_is_better_in_comparisons() -> None:
    """The plan once printed ``rmse (higher is better)``: the comparison asks the registry."""
    (delta,) = compare_metrics({"rmse": 3.0}, {"rmse": 2.5})
    assert (delta.lower_is_better, delta.direction, delta.verdict) == (True, "lower", "better")
    (changed,) = compare_metrics({"residual_q50": 0.1}, {"residual_q50": 0.3})
    assert (changed.direction, changed.verdict) == ("none", "changed")
    assert is_better("r2", 0.9, 0.8) is True
    assert is_better("mae", 1.0, 1.0) is False
    assert is_better("residual_q05", 1.0, 2.0) is None


def test_metrics_per_task_start_with_the_headline() -> None:
    assert metrics_for("binary")[:3] == ["roc_auc", "pr_auc", "log_loss"]
    assert {"precision", "recall", "f1"} <= set(metrics_for("binary"))
    assert {"precision", "recall", "f1"}.isdisjoint(metrics_for("multiclass"))
    assert metrics_for("regression")[0] == "rmse"
    assert set(metrics_for("regression")) >= {"mae", "r2", "mape", "residual_q05", "residual_q95"}
    for name, spec in METRICS.items():
        assert spec.name == name
        assert spec.tasks, name


def test_format_follows_the_registry() -> None:
    assert format_metric("roc_auc", 0.8325757) == "0.8326"
    assert format_metric("mape", 0.0514928) == "5.15%"
    assert format_metric("unknown", 12345.678) == "1.235e+04"
    assert format_metric("rmse", None) == "-"


def test_a_local_version_recorded_before_tasks_reads_as_binary(tmp_path: Path) -> None:
    from model_build.registry.protocol import NewVersion
    from model_bundle.bundle import ModelBundle, save_bundle

    bundle = tmp_path / "bundle"
    digest = save_bundle(ModelBundle(estimator={"stand-in": 1}, features=["a"]), directory=bundle)
    registry = LocalRegistry(tmp_path / "registry")
    new = NewVersion(
        model_name="m", artifact_digest=digest, metrics={"roc_auc": 0.7},
        feature_service="s", features=["a"],
    )  # fmt: skip
    registry.register(new=new, bundle_dir=bundle)
    path = tmp_path / "registry" / "m" / "1" / "version.json"
    record = json.loads(path.read_text())
    del record["version"]["task"]
    path.write_text(json.dumps(record))
    assert registry.get(model_name="m", version=1).task == Task.BINARY
