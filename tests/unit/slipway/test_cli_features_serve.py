"""``slipway features serve``: options reach the runner, a bad repo exits 1 with one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.feature_server import runner
from slipway.cli.app import run


def test_options_reach_the_runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(runner, "serve", lambda **kwargs: calls.append(kwargs))
    keys = tmp_path / "keys.yaml"
    args = ["features", "serve", "--repo", str(tmp_path), "--env", "redis", "--port", "7000"]
    args += ["--workers", "2", "--api-keys", str(keys), "--host", "127.0.0.1"]
    assert run(args) == 0
    (call,) = calls
    assert call["port"] == 7000
    assert call["workers"] == 2
    assert call["settings"].feature_repo == tmp_path
    assert call["settings"].feature_env == "redis"
    assert call["settings"].api_keys_file == keys


def test_bad_repo_exits_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["features", "serve", "--repo", str(tmp_path / "absent")]) == 1
    err = capsys.readouterr().err
    assert "feature_store.yaml: file not found" in err
    assert len(err.strip().splitlines()) == 1
