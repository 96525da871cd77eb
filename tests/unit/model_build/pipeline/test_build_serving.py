"""The gate's baseline: which version serves (the CLI reads the manifest with the real loader),
and how it is scored (re-scored on the holdout, else its recorded metrics with a warning)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from registry_fakes import InMemoryRegistry
from sklearn.linear_model import LogisticRegression

from model_build.errors import PipelineError, RegistryError
from model_build.pipeline.serving import (
    HoldoutScoring,
    ServingModel,
    find_serving,
    rescore_serving,
    serving_baseline,
)
from model_build.pipeline.steps.gate import NoServingModel
from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import ModelVersion, NewVersion
from model_bundle.bundle import ModelBundle, save_bundle
from model_deploy.errors import ManifestError
from slipway.cli.build_serving import serving_from_manifest

ENVIRONMENTS = Path(__file__).resolve().parents[4] / "model_deploy" / "environments"
MODEL_BLOCK = "model:\n  name: {name}\n  version: {version}\n  feature_service: driver_ranking_v1\n"


def _register(registry: LocalRegistry, tmp_path: Path, metrics: dict[str, float]) -> ModelVersion:
    """Register a real (tiny) bundle over features a and b with the given recorded metrics."""
    rng = np.random.default_rng(len(registry.list_versions(model_name="driver_ranking")))
    x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (x["a"] + 0.3 * rng.normal(size=200) > 0).astype(int)
    directory = tmp_path / f"bundle-{rng.integers(1 << 30)}"
    model = LogisticRegression().fit(x, y)
    digest = save_bundle(ModelBundle(estimator=model, features=["a", "b"]), directory=directory)
    new = NewVersion(
        model_name="driver_ranking",
        artifact_digest=digest,
        metrics=metrics,
        feature_service="driver_ranking_v1",
        features=["a", "b"],
    )
    return registry.register(new=new, bundle_dir=directory)


def _manifest(tmp_path: Path, env: str, model: str | None) -> Path:
    """The checked-in ``<env>/driver_ranking.yaml`` with ``model: null`` replaced by ``model``."""
    text = (ENVIRONMENTS / env / "driver_ranking.yaml").read_text(encoding="utf-8")
    assert "\nmodel: null\n" in text
    path = tmp_path / "environments" / env / "driver_ranking.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    declared = ENVIRONMENTS.parent / "environments.yaml"  # beside the manifests folder
    (tmp_path / "environments.yaml").write_text(declared.read_text(encoding="utf-8"))
    path.write_text(text.replace("\nmodel: null\n", f"\n{model or 'model: null'}\n"))
    return path


def _holdout(tmp_path: Path, *, columns: tuple[str, ...] = ("a", "b")) -> HoldoutScoring:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    frame["label"] = (frame["a"] > 0).astype(int)
    return HoldoutScoring(
        holdout=frame[[*columns, "label"]],
        label="label",
        threshold=0.5,
        bins=10,
        directory=tmp_path / "serving",
    )


# -- the manifest, read by the CLI through model_deploy's loader -----------------------------------


def test_an_invalid_manifest_is_an_error_naming_the_field(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    manifest = _manifest(tmp_path, "prod", MODEL_BLOCK.format(name="driver_ranking", version="x"))
    with pytest.raises(ManifestError, match=r"model\.version"):
        serving_from_manifest(registry=registry, model_name="driver_ranking", manifest=manifest)
    manifest.write_text("model: [unclosed\n")
    with pytest.raises(ManifestError, match="YAML"):
        serving_from_manifest(registry=registry, model_name="driver_ranking", manifest=manifest)


def test_a_version_the_registry_lacks_is_an_error(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    manifest = _manifest(tmp_path, "prod", MODEL_BLOCK.format(name="driver_ranking", version=9))
    with pytest.raises(PipelineError, match="driver_ranking:9 is not in the registry"):
        serving_from_manifest(registry=registry, model_name="driver_ranking", manifest=manifest)


def test_a_missing_manifest_or_another_model_is_a_warning(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    absent = serving_from_manifest(
        registry=registry, model_name="driver_ranking", manifest=tmp_path / "prod.yaml"
    )
    assert isinstance(absent, NoServingModel)
    assert absent.warning
    assert "prod.yaml not found" in absent.reason
    other = _manifest(tmp_path, "prod", MODEL_BLOCK.format(name="churn", version=1))
    found = serving_from_manifest(registry=registry, model_name="driver_ranking", manifest=other)
    assert isinstance(found, NoServingModel)
    assert found.warning
    assert "'churn', not 'driver_ranking'" in found.reason


def test_nothing_deployed_yet_or_comparison_off_is_no_warning(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    empty = _manifest(tmp_path, "prod", None)
    found = serving_from_manifest(registry=registry, model_name="driver_ranking", manifest=empty)
    assert isinstance(found, NoServingModel)
    assert not found.warning
    assert "prod serves no model yet" in found.reason
    off = serving_from_manifest(
        registry=registry, model_name="driver_ranking", manifest=empty, compare=False
    )
    assert isinstance(off, NoServingModel)
    assert not off.warning


def test_the_manifest_names_the_version_and_the_environment(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    _register(registry, tmp_path, {"roc_auc": 0.8})
    second = _register(registry, tmp_path, {"roc_auc": 0.9})
    for env in ("prod", "staging"):
        manifest = _manifest(tmp_path, env, MODEL_BLOCK.format(name="driver_ranking", version=2))
        found = serving_from_manifest(
            registry=registry, model_name="driver_ranking", manifest=manifest
        )
        assert found == ServingModel(version=second, environment=env, source=str(manifest))
        by_folder = serving_from_manifest(
            registry=registry, model_name="driver_ranking", manifest=manifest.parent
        )
        assert by_folder == found  # an environment folder: its <model>.yaml


def test_the_model_s_manifest_is_found_whatever_its_file_name(tmp_path: Path) -> None:
    """The gate reads the prod manifest serving the model, not a file named after it."""
    registry = LocalRegistry(tmp_path / "registry")
    version = _register(registry, tmp_path, {"roc_auc": 0.8})
    named = _manifest(tmp_path, "prod", MODEL_BLOCK.format(name="driver_ranking", version=1))
    renamed = named.with_name("ranking-v2.yaml")
    named.rename(renamed)
    found = serving_from_manifest(
        registry=registry, model_name="driver_ranking", manifest=renamed.parent
    )
    assert found == ServingModel(version=version, environment="prod", source=str(renamed))
    missing = serving_from_manifest(
        registry=registry, model_name="trip_fare", manifest=renamed.parent
    )
    assert isinstance(missing, NoServingModel)
    assert missing.warning
    assert "has no manifest of trip_fare" in missing.reason
    undeclared = tmp_path / "environments" / "qa"
    undeclared.mkdir()
    with pytest.raises(ManifestError, match="'qa' is not an environment"):
        serving_from_manifest(registry=registry, model_name="driver_ranking", manifest=undeclared)


def test_find_serving_names_the_source_of_a_missing_version() -> None:
    with pytest.raises(PipelineError, match=r"dev\.yaml: field 'model.version': m:3 is not in"):
        find_serving(
            registry=InMemoryRegistry(),
            model_name="m",
            version=3,
            environment="dev",
            source="dev.yaml",
        )


# -- the baseline: re-scored, or recorded with a warning ----------------------------------------


def test_a_bundle_that_cannot_be_fetched_falls_back_with_a_warning(tmp_path: Path) -> None:
    class Unreachable(InMemoryRegistry):
        def fetch_bundle(self, *, model_name: str, version: int, directory: Path) -> Path:
            raise RegistryError("s3 get_object failed: AccessDenied")

    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.5})
    serving = ServingModel(version=prod, environment="prod")
    baseline, warnings = serving_baseline(
        serving, registry=Unreachable(), scoring=_holdout(tmp_path)
    )
    assert not isinstance(baseline, NoServingModel)
    assert (baseline.source, baseline.metrics) == ("registry", {"roc_auc": 0.5})
    (warning,) = warnings
    assert "prod driver_ranking:1 was not re-scored" in warning
    assert "AccessDenied" in warning
    assert "recorded metrics" in warning


def test_a_bundle_needing_other_features_falls_back_with_a_warning(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.5})
    serving = ServingModel(version=prod, environment="prod")
    baseline, warnings = serving_baseline(
        serving, registry=registry, scoring=_holdout(tmp_path, columns=("a",))
    )
    assert not isinstance(baseline, NoServingModel)
    assert baseline.source == "registry"
    (warning,) = warnings
    assert "lacks its features b" in warning


def test_no_serving_model_passes_through_with_its_warning() -> None:
    quiet = NoServingModel(reason="prod serves no model yet")
    loud = NoServingModel(reason="prod.yaml not found", warning=True)
    registry = InMemoryRegistry()
    assert serving_baseline(quiet, registry=registry, scoring=None) == (quiet, [])
    assert serving_baseline(loud, registry=registry, scoring=None) == (
        loud,
        ["prod.yaml not found"],
    )


def test_the_serving_bundle_is_rescored_on_the_holdout(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    prod = _register(registry, tmp_path, {"roc_auc": 0.5})
    metrics, problem = rescore_serving(registry=registry, serving=prod, scoring=_holdout(tmp_path))
    assert problem == ""
    assert metrics is not None
    assert metrics["roc_auc"] > 0.9
    serving = ServingModel(version=prod, environment="prod")
    baseline, warnings = serving_baseline(
        serving, registry=registry, scoring=_holdout(tmp_path / "again")
    )
    assert not isinstance(baseline, NoServingModel)
    assert (baseline.source, baseline.ref, warnings) == ("holdout", "driver_ranking:1", [])
    recorded, quiet = serving_baseline(serving, registry=registry, scoring=None)
    assert not isinstance(recorded, NoServingModel)
    assert (recorded.source, quiet) == ("registry", [])


# -- the SageMaker ServingMetrics parameter ------------------------------------------------------


def test_the_serving_parameter_carries_the_environment() -> None:
    from model_build.pipeline.steps.gate import Baseline
    from model_build.sagemaker.launch import parse_serving, serving_parameter

    text = serving_parameter(
        ref="driver_ranking:4",
        metrics={"roc_auc": 0.123456789, "log_loss": 0.4, "pr_auc": 0.7},
        keep=["roc_auc", "log_loss"],
        environment="staging",
    )
    assert len(text) < 256
    assert parse_serving(text) == Baseline(
        ref="driver_ranking:4",
        metrics={"log_loss": 0.4, "roc_auc": 0.123457},
        source="registry",
        environment="staging",
    )
    nothing = parse_serving("{}")
    assert isinstance(nothing, NoServingModel)
    assert not nothing.warning
    with pytest.raises(PipelineError, match="invalid serving metrics"):
        parse_serving('{"ref": "m:1"}')
    with pytest.raises(PipelineError, match="invalid serving metrics"):
        parse_serving("[1]")
