"""The main job's command runner: background commands are all waited for, failures named."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.demo.commands import LoopPaths, finish, finish_all, slipway, start, stop
from slipway.errors import DemoError


def _paths(tmp_path: Path) -> LoopPaths:
    (tmp_path / "gitops").mkdir()
    return LoopPaths(root=tmp_path, feature_repo=tmp_path / "feature_repo")


def test_a_failed_command_is_named_with_its_last_error_line(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match=r"`slipway no-such-group` failed: .*No such command"):
        slipway(_paths(tmp_path), "no-such-group")


def test_every_started_command_is_waited_for_before_the_first_failure_is_raised(
    tmp_path: Path,
) -> None:
    paths = _paths(tmp_path)
    failing = start(paths, "no-such-group")
    passing = start(paths, "--help")
    with pytest.raises(DemoError, match="no-such-group"):
        finish_all([failing, passing])
    assert passing.process.returncode == 0  # reaped, not left running


def test_finish_returns_stdout_and_stop_is_harmless_after_it(tmp_path: Path) -> None:
    started = start(_paths(tmp_path), "--help")
    assert "Usage" in finish(started)
    stop(started)
    assert started.process.returncode == 0


def test_stop_kills_a_command_still_running(tmp_path: Path) -> None:
    started = start(_paths(tmp_path), "--help")
    stop(started)
    assert started.process.returncode is not None
