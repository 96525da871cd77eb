"""The ready-to-register ``serve`` command: options reach the runner, errors exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from services.server import runner
from services.server.command import serve_command


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve_command)

    @app.command("other")
    def other() -> None:  # a second command keeps "serve" a subcommand
        """Placeholder."""

    return app


def test_options_reach_the_runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(runner, "serve", lambda **kwargs: calls.append(kwargs))
    keys = tmp_path / "keys.yaml"
    args = ["serve", "--repo", str(tmp_path), "--env", "redis", "--port", "7000"]
    args += ["--workers", "2", "--api-keys", str(keys), "--host", "127.0.0.1"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert call["port"] == 7000
    assert call["workers"] == 2
    assert call["settings"].feature_repo == tmp_path
    assert call["settings"].feature_env == "redis"
    assert call["settings"].api_keys_file == keys


def test_bad_repo_exits_1_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["serve", "--repo", str(tmp_path / "absent")])
    assert result.exit_code == 1
    assert "feature_store.yaml: file not found" in result.output
