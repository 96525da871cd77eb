"""The gate: absolute thresholds, "not worse than prod", the prod manifest resolver."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from model_build.errors import GateFailedError, PipelineError
from model_build.pipeline.params import GateParams, load_params
from model_build.pipeline.steps.gate import (
    check_gate,
    enforce_gate,
    read_manifest_version,
    rescore_serving,
    resolve_serving,
)
from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import ModelVersion, NewVersion
from model_bundle.bundle import ModelBundle, save_bundle

GOOD = {"roc_auc": 0.85, "log_loss": 0.45, "brier": 0.15, "ece": 0.02, "pr_auc": 0.84}


def _gate(**changes: object) -> GateParams:
    return load_params().gate.model_copy(update=changes)


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
    passed = check_gate(metrics=GOOD, gate=_gate(), serving=None)
    assert passed.passed
    assert [c.metric for c in passed.checks] == ["roc_auc", "log_loss"]
    assert passed.summary() == "passed 2 checks"

    low = check_gate(metrics={**GOOD, "roc_auc": 0.70}, gate=_gate(), serving=None)
    assert not low.passed
    assert low.summary() == "roc_auc 0.7000 misses the minimum 0.7500"
    with pytest.raises(GateFailedError, match=r"roc_auc 0\.7000 misses the minimum 0\.7500"):
        enforce_gate(low, model_name="driver_ranking")

    lossy = check_gate(
        metrics={**GOOD, "log_loss": 0.7, "ece": 0.2}, gate=_gate(max_ece=0.1), serving=None
    )
    assert {c.metric for c in lossy.checks if not c.passed} == {"log_loss", "ece"}


def test_blocks_candidate_worse_than_serving_prod(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.86, "log_loss": 0.40})
    candidate = _register(registry, tmp_path, {"roc_auc": 0.80, "log_loss": 0.41})
    assert (prod.version, candidate.version) == (1, 2)

    result = check_gate(metrics=candidate.metrics, gate=_gate(), serving=prod)
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
    result = check_gate(metrics=candidate.metrics, gate=_gate(), serving=prod)
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
        serving=None,
    )
    assert result.passed  # no serving version: absolute checks only
    from model_build.pipeline.steps.gate import Baseline, check_against

    blocked = check_against(
        metrics={**GOOD, "log_loss": 0.45},
        gate=gate,
        baseline=Baseline(ref="driver_ranking:7", metrics={"log_loss": 0.40}, source="registry"),
    )
    assert not blocked.passed
    assert not blocked.serving_passed
    assert (
        "log_loss 0.4500 is 0.0500 worse than prod driver_ranking:7 (0.4000)" in blocked.summary()
    )


def test_serving_metrics_override_the_recorded_ones(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.99})
    result = check_gate(metrics=GOOD, gate=_gate(), serving=prod, serving_metrics={"roc_auc": 0.84})
    assert result.passed
    assert result.baseline is not None
    assert result.baseline.source == "holdout"


def test_missing_candidate_metric_is_a_pipeline_error() -> None:
    with pytest.raises(PipelineError, match="metric 'roc_auc' missing"):
        check_gate(metrics={"log_loss": 0.3}, gate=_gate(), serving=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model: null\n", None),
        ("environment: prod\n", None),
        ("model: {registry: local, name: driver_ranking, version: 3}\n", 3),
        ("model: {name: other_model, version: 3}\n", None),
        ("model: {version: '4'}\n", 4),
    ],
)
def test_read_manifest_version(tmp_path: Path, text: str, expected: int | None) -> None:
    manifest = tmp_path / "prod.yaml"
    manifest.write_text(text)
    assert read_manifest_version(manifest=manifest, model_name="driver_ranking") == expected


def test_manifest_absent_or_invalid(tmp_path: Path) -> None:
    assert read_manifest_version(manifest=tmp_path / "nope.yaml", model_name="m") is None
    manifest = tmp_path / "prod.yaml"
    manifest.write_text("model: {name: m, version: latest}\n")
    with pytest.raises(PipelineError, match=r"prod\.yaml: field 'model.version'"):
        read_manifest_version(manifest=manifest, model_name="m")
    manifest.write_text("model: [unclosed\n")
    with pytest.raises(PipelineError, match="cannot read the environment manifest"):
        read_manifest_version(manifest=manifest, model_name="m")


def test_resolve_serving_reads_manifest_then_registry(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    manifest = tmp_path / "prod.yaml"
    assert (
        resolve_serving(registry=registry, model_name="driver_ranking", manifest=manifest) is None
    )
    _register(registry, tmp_path, {"roc_auc": 0.8})
    second = _register(registry, tmp_path, {"roc_auc": 0.9})
    manifest.write_text("model:\n  registry: local\n  name: driver_ranking\n  version: 2\n")
    found = resolve_serving(registry=registry, model_name="driver_ranking", manifest=manifest)
    assert found == second
    manifest.write_text("model: {name: driver_ranking, version: 9}\n")
    with pytest.raises(PipelineError, match="driver_ranking:9 is not in the registry"):
        resolve_serving(registry=registry, model_name="driver_ranking", manifest=manifest)


def test_rescore_serving_scores_prod_bundle_on_the_holdout(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.5})
    rng = np.random.default_rng(0)
    holdout = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    holdout["label"] = (holdout["a"] > 0).astype(int)
    metrics = rescore_serving(
        registry=registry,
        serving=prod,
        holdout=holdout,
        label="label",
        threshold=0.5,
        bins=10,
        directory=tmp_path / "serving",
    )
    assert metrics is not None
    assert metrics["roc_auc"] > 0.9
    lacking = holdout.drop(columns=["b"])
    assert (
        rescore_serving(
            registry=registry,
            serving=prod,
            holdout=lacking,
            label="label",
            threshold=0.5,
            bins=10,
            directory=tmp_path / "serving2",
        )
        is None
    )
