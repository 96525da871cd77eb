"""Fixtures for the inference server tests (bundles are built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from inference_bundles import REF, write_bundle

from services.inference.server import create_inference_app


@pytest.fixture(autouse=True)
def _no_capture_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Capture settings come from the environment: a developer's own must not leak in."""
    for name in ("DIR", "PERCENT", "ENDPOINT_NAME", "VARIANT_NAME", "QUEUE_SIZE", "MAX_FILE_MB"):
        monkeypatch.delenv(f"SLIPWAY_CAPTURE_{name}", raising=False)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("bundle") / "logreg")


@pytest.fixture(scope="session")
def hgb_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("bundle") / "hgb", kind="hgb")


@pytest.fixture(scope="session")
def strict_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("bundle") / "strict", handle_unknown="error")


@pytest.fixture(scope="session")
def app(bundle_dir: Path) -> FastAPI:
    return create_inference_app(bundle_dir=bundle_dir, model_ref=REF)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)
