"""The tracking tests: toy models from the pipeline kits, each test in a fresh MLflow store."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from model_build.settings import BuildSettings
from model_build.tracking.mlflow_tracker import MlflowTracker
from model_build.tracking.store import resolve_store


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its migrations applied (copied by every test)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracker(migrated_db: Path, tmp_path: Path) -> MlflowTracker:
    folder = tmp_path / "tracking"
    folder.mkdir()
    shutil.copyfile(migrated_db, folder / "mlflow.db")
    return MlflowTracker(store=resolve_store(BuildSettings(tracking_dir=folder)))
