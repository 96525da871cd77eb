"""Fixtures for the registry unit tests: tiny model bundles and version records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sklearn.dummy import DummyClassifier

from model_build.registry import NewVersion
from model_bundle.bundle import ModelBundle, save_bundle

NewVersionFactory = Callable[..., NewVersion]


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, str]:
    """A tiny model bundle folder and its digest."""
    estimator = DummyClassifier(strategy="prior").fit([[0.0], [1.0]], [0, 1])
    directory = tmp_path / "bundle"
    digest = save_bundle(ModelBundle(estimator=estimator, features=["x"]), directory=directory)
    return directory, digest


@pytest.fixture
def new_version(bundle: tuple[Path, str]) -> NewVersionFactory:
    """Make a NewVersion for ``bundle``; keyword arguments override fields."""

    def make(**changes: Any) -> NewVersion:
        fields: dict[str, Any] = {
            "model_name": "driver_ranking",
            "artifact_digest": bundle[1],
            "metrics": {"roc_auc": 0.8, "log_loss": 0.4},
            "params": {"C": 1.0},
            "feature_service": "driver_ranking_v1",
            "features": ["x"],
            "run_id": "r1",
        }
        return NewVersion.model_validate({**fields, **changes})

    return make
