"""Shared fixtures: a copy of the checked-in Feast repo in a temp folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FEATURE_REPO = ROOT / "feature_repo"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def copy_feature_repo(target: Path) -> Path:
    """Copy the repo's definitions, configs and suites (not its data) into ``target``."""
    shutil.copytree(
        FEATURE_REPO,
        target,
        ignore=shutil.ignore_patterns("data", "__pycache__"),
        dirs_exist_ok=True,
    )
    return target


@pytest.fixture
def feature_repo_copy(tmp_path: Path) -> Path:
    return copy_feature_repo(tmp_path / "feature_repo")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration/ and tests/contract/ as ``integration``."""
    del config
    for item in items:
        parts = item.path.parts
        if "integration" in parts or "contract" in parts:
            item.add_marker(pytest.mark.integration)
