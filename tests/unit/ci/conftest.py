"""Fixtures of the ci unit tests: a temp git repo with the real manifests, a fake registry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ci_support import FakeRegistry, make_git_repo

from model_build.registry.protocol import ApprovalStatus


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo on main with the checked-in manifests."""
    return make_git_repo(tmp_path / "repo")


@pytest.fixture
def registry() -> FakeRegistry:
    """Versions 1 and 2 Approved, 3 Rejected."""
    fake = FakeRegistry()
    fake.add()
    fake.add()
    fake.add(status=ApprovalStatus.REJECTED, reason="worse on holdout")
    return fake
