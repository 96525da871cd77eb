"""BuildSettings from the environment and open_registry's choice of implementation."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.errors import SettingsError
from model_build.errors import RegistryError
from model_build.registry import LocalRegistry, SageMakerRegistry, open_registry
from model_build.settings import BuildSettings

ENV = (
    "SLIPWAY_REGISTRY",
    "SLIPWAY_REGISTRY_PATH",
    "SLIPWAY_AWS_REGION",
    "SLIPWAY_S3_BUCKET",
    "SLIPWAY_S3_PREFIX",
    "SLIPWAY_IMAGE_URI",
    "SLIPWAY_AWS_ENDPOINT_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_local_registry() -> None:
    settings = BuildSettings()
    assert settings.registry == "local"
    assert settings.registry_path == Path(".slipway/registry")
    registry = open_registry(settings)
    assert isinstance(registry, LocalRegistry)
    assert registry.root == Path(".slipway/registry")


def test_environment_selects_sagemaker_without_touching_aws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLIPWAY_REGISTRY", "sagemaker")
    monkeypatch.setenv("SLIPWAY_S3_BUCKET", "artifacts")
    monkeypatch.setenv("SLIPWAY_IMAGE_URI", "img:1")
    monkeypatch.setenv("SLIPWAY_AWS_REGION", "eu-west-1")
    monkeypatch.setenv("SLIPWAY_AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    registry = open_registry()
    assert isinstance(registry, SageMakerRegistry)
    assert (registry.s3_bucket, registry.image_uri, registry.region) == (
        "artifacts",
        "img:1",
        "eu-west-1",
    )
    assert registry.s3_prefix == "slipway/models"
    assert "artifacts" in repr(registry)


def test_sagemaker_needs_bucket_and_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_REGISTRY", "sagemaker")
    with pytest.raises(RegistryError, match="SLIPWAY_S3_BUCKET and SLIPWAY_IMAGE_URI"):
        open_registry()
    monkeypatch.setenv("SLIPWAY_S3_BUCKET", "artifacts")
    with pytest.raises(RegistryError, match="SLIPWAY_IMAGE_URI"):
        open_registry()


def test_unknown_registry_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_REGISTRY", "mlflow")
    with pytest.raises(SettingsError, match="SLIPWAY_REGISTRY: Input should be") as caught:
        open_registry()
    assert "mlflow" not in str(caught.value)
