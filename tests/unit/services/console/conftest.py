"""A small console state (3 environments x 2 models) on disk, and an app reading it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import make_context
from fastapi.testclient import TestClient
from kits.console_state import ConsoleState, FakeTarget, small_state, wanted_versions

from services.console.app import create_app
from services.console.readers import ConsoleContext


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConsoleState:
    made = small_state(tmp_path / "state")
    for name, value in made.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLIPWAY_FEATURE_REPO", str(tmp_path / "no-feature-repo"))
    monkeypatch.setenv("SLIPWAY_CONSOLE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("SLIPWAY_CONSOLE_MONITOR_DIR", str(tmp_path / "monitor"))
    for name in (
        "SLIPWAY_CONSOLE_TOKEN",
        "SLIPWAY_MONITOR_DIR",
        "GITHUB_TOKEN",
        "GITHUB_REPOSITORY",
    ):
        monkeypatch.delenv(name, raising=False)
    return made


@pytest.fixture
def target() -> FakeTarget:
    """Serves every wanted version but dev/trip_fare, which serves 2 (it wants 3)."""
    serving = wanted_versions()
    serving["dev/trip_fare"] = 2
    return FakeTarget(serving)


@pytest.fixture
def context(state: ConsoleState, target: FakeTarget) -> ConsoleContext:
    return make_context(target)


@pytest.fixture
def client(context: ConsoleContext) -> Iterator[TestClient]:
    with TestClient(create_app(context, require_token=False), raise_server_exceptions=False) as c:
        yield c
