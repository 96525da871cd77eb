"""The gate: absolute thresholds and "not worse than the serving version", a pure step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from build_kits import driver_ranking
from sklearn.linear_model import LogisticRegression

from model_build.definition.schema import GateSection
from model_build.errors import GateFailedError, PipelineError
from model_build.pipeline.steps.gate import (
    Baseline,
    NoServingModel,
    check_gate,
    enforce_gate,
    recorded_baseline,
)
from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import ModelVersion, NewVersion
from model_bundle.bundle import ModelBundle, save_bundle

GOOD = {"roc_auc": 0.85, "log_loss": 0.45, "brier": 0.15, "ece": 0.02, "pr_auc": 0.84}
NONE = NoServingModel(reason="first build")


def _gate(max_ece: float | None = None, **changes: object) -> GateSection:
    """The driver ranking gate, optionally with an ECE maximum added after its thresholds."""
    gate = driver_ranking().gate
    if max_ece is not None:
        changes["thresholds"] = {**gate.thresholds, "ece": max_ece}
    return gate.model_copy(update=changes)


def _register(registry: LocalRegistry, tmp_path: Path, metrics: dict[str, float]) -> ModelVersion:
    """Register a real (tiny) bundle with the given recorded metrics."""
    rng = np.random.default_rng(len(registry.list_versions(model_name="driver_ranking")))
    x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (x["a"] + 0.3 * rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    directory = tmp_path / f"bundle-{rng.integers(1 << 30)}"
    digest = save_bundle(ModelBundle(estimator=model, features=["a", "b"]), directory=directory)
    new = NewVersion(
        model_name="driver_ranking",
        artifact_digest=digest,
        metrics=metrics,
        feature_service="driver_ranking_v1",
        features=["a", "b"],
    )
    return registry.register(new=new, bundle_dir=directory)


def test_absolute_thresholds_pass_and_fail() -> None:
    passed = check_gate(metrics=GOOD, gate=_gate(), baseline=NONE)
    assert passed.passed
    assert [c.metric for c in passed.checks] == ["roc_auc", "log_loss"]
    assert passed.summary() == "passed 2 checks"

    low = check_gate(metrics={**GOOD, "roc_auc": 0.70}, gate=_gate(), baseline=NONE)
    assert not low.passed
    assert low.summary() == "roc_auc 0.7000 misses the minimum 0.7500"
    with pytest.raises(GateFailedError, match=r"roc_auc 0\.7000 misses the minimum 0\.7500"):
        enforce_gate(low, model_name="driver_ranking")

    lossy = check_gate(
        metrics={**GOOD, "log_loss": 0.7, "ece": 0.2}, gate=_gate(max_ece=0.1), baseline=NONE
    )
    assert {c.metric for c in lossy.checks if not c.passed} == {"log_loss", "ece"}


def test_blocks_candidate_worse_than_serving_prod(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.86, "log_loss": 0.40})
    candidate = _register(registry, tmp_path, {"roc_auc": 0.80, "log_loss": 0.41})
    assert (prod.version, candidate.version) == (1, 2)

    result = check_gate(
        metrics=candidate.metrics,
        gate=_gate(),
        baseline=recorded_baseline(prod, environment="prod"),
    )
    assert not result.passed
    assert result.baseline is not None
    assert result.baseline.ref == "driver_ranking:1"
    assert result.baseline.source == "registry"
    with pytest.raises(GateFailedError) as caught:
        enforce_gate(result, model_name="driver_ranking")
    message = str(caught.value)
    # Both numbers, the gap, the prod version and the tolerance are in the message.
    assert "roc_auc 0.8000 is 0.0600 worse than prod driver_ranking:1 (0.8600)" in message
    assert "more than the tolerance 0.0100" in message
    # log_loss is worse by 0.01, inside its 0.02 tolerance: not reported as a failure.
    assert "log_loss" not in message


def test_passes_candidate_within_tolerance_of_prod(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.86, "log_loss": 0.40})
    candidate = _register(registry, tmp_path, {"roc_auc": 0.855, "log_loss": 0.415})
    result = check_gate(
        metrics=candidate.metrics,
        gate=_gate(),
        baseline=recorded_baseline(prod, environment="prod"),
    )
    assert result.passed
    assert result.serving_passed
    serving = [c for c in result.checks if c.kind == "serving"]
    assert [(c.metric, c.baseline, c.tolerance) for c in serving] == [
        ("log_loss", 0.40, 0.02),
        ("roc_auc", 0.86, 0.01),
    ]
    assert result.summary() == "passed 4 checks (against driver_ranking:1)"
    enforce_gate(result, model_name="driver_ranking")


def test_lower_is_better_metric_blocks_when_worse() -> None:
    gate = _gate(serving_tolerance={"log_loss": 0.01})
    result = check_gate(
        metrics={**GOOD, "log_loss": 0.45},
        gate=gate,
        baseline=NONE,
    )
    assert result.passed  # no serving version: absolute checks only
    blocked = check_gate(
        metrics={**GOOD, "log_loss": 0.45},
        gate=gate,
        baseline=Baseline(
            ref="driver_ranking:7",
            metrics={"log_loss": 0.40},
            source="registry",
            environment="prod",
        ),
    )
    assert not blocked.passed
    assert not blocked.serving_passed
    assert (
        "log_loss 0.4500 is 0.0500 worse than prod driver_ranking:7 (0.4000)" in blocked.summary()
    )


def test_serving_metrics_override_the_recorded_ones(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.99})
    measured = Baseline(
        ref=prod.ref, metrics={"roc_auc": 0.84}, source="holdout", environment="prod"
    )
    result = check_gate(metrics=GOOD, gate=_gate(), baseline=measured)
    assert result.passed
    assert result.baseline is not None
    assert result.baseline.source == "holdout"


def test_missing_candidate_metric_is_a_pipeline_error() -> None:
    with pytest.raises(PipelineError, match="metric 'roc_auc' missing"):
        check_gate(metrics={"log_loss": 0.3}, gate=_gate(), baseline=NONE)


def test_the_serving_environment_is_named_not_assumed() -> None:
    gate = _gate(serving_tolerance={"roc_auc": 0.01})
    staging = Baseline(
        ref="driver_ranking:4", metrics={"roc_auc": 0.95}, source="registry", environment="staging"
    )
    result = check_gate(metrics=GOOD, gate=gate, baseline=staging)
    assert "worse than staging driver_ranking:4 (0.9500)" in result.summary()
    assert "prod" not in result.summary()
    assert result.to_dict()["baseline"]["environment"] == "staging"


def test_no_serving_model_is_explicit_in_the_verdict() -> None:
    result = check_gate(metrics=GOOD, gate=_gate(), baseline=NONE)
    assert result.baseline is None
    assert result.compared_with == NONE
    document = result.to_dict()
    assert document["baseline"] is None
    assert document["no_baseline"] == {"reason": "first build", "warning": False}


def test_a_blocked_candidate_names_the_fallbacks_behind_the_verdict() -> None:
    low = check_gate(metrics={**GOOD, "roc_auc": 0.70}, gate=_gate(), baseline=NONE)
    with pytest.raises(GateFailedError, match=r"\(warning: compared by recorded metrics\)$"):
        enforce_gate(low, model_name="m", warnings=["compared by recorded metrics"])


def test_the_gate_step_does_no_io() -> None:
    """Importing the step loads no YAML parser, no array library, no bundle I/O, no deploy code.

    (``model_bundle.task``, the task enum the metric registry names, is the one bundle module.)
    """
    import subprocess
    import sys

    code = (
        "import sys, model_build.pipeline.steps.gate as g\n"
        "heavy = {'yaml', 'ruamel', 'numpy', 'pandas', 'model_deploy', 'model_bundle.bundle'}\n"
        "loaded = {name.split('.')[0] for name in sys.modules} | set(sys.modules)\n"
        "print(sorted(heavy & loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_directions_come_from_the_metric_registry() -> None:
    """rmse is lower-is-better (a maximum), r2 higher (a minimum): no second definition."""
    gate = GateSection(thresholds={"rmse": 2.0, "r2": 0.5}, serving_tolerance={"rmse": 0.1})
    passed = check_gate(metrics={"rmse": 1.5, "r2": 0.7}, gate=gate, baseline=NONE)
    assert [c.message for c in passed.checks] == [
        "rmse 1.5000 meets the maximum 2.0000",
        "r2 0.7000 meets the minimum 0.5000",
    ]
    serving = Baseline(ref="fare:1", metrics={"rmse": 1.0}, source="registry", environment="prod")
    worse = check_gate(metrics={"rmse": 1.5, "r2": 0.7}, gate=gate, baseline=serving)
    assert not worse.passed
    assert "rmse 1.5000 is 0.5000 worse than prod fare:1 (1.0000)" in worse.summary()
    with pytest.raises(PipelineError, match="no better direction"):
        check_gate(
            metrics={"residual_q50": 0.1},
            gate=GateSection(thresholds={"residual_q50": 0.2}),
            baseline=NONE,
        )
