"""Pytest fixtures: one fake GitHub server per session, its state reset for every test.

Import them into a test module (or a conftest) to use them::

    from github_api.fixtures import github_api, github_server  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import RunningServer, serve
from .state import DEFAULT_TOKEN


@pytest.fixture(scope="session")
def github_server() -> Iterator[RunningServer]:
    """The running fake GitHub (shared; use ``github_api`` for a clean state)."""
    with serve() as running:
        yield running


@pytest.fixture
def github_api(github_server: RunningServer) -> RunningServer:
    """The fake GitHub with no repositories, other users, calls or faults; the default token."""
    state = github_server.state
    with state.lock:
        state.token = DEFAULT_TOKEN
        state.repos.clear()
        state.users.clear()
        state.teams.clear()
        state.calls.clear()
        state.faults.clear()
    return github_server
