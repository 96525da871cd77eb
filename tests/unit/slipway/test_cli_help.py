"""Every command and option explains itself, and the CLI composes every area's group."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from slipway.cli import app


def _walk(command: Any, path: str = "slipway") -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(_walk(sub, f"{path} {name}"))
    return found


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, command in _walk(typer.main.get_command(app)):
        if not (command.help or "").strip():
            missing.append(path)
        for param in command.params:
            kind = param.param_type_name
            if kind == "option" and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}")
            if kind == "argument" and not (getattr(param, "help", None) or "").strip():
                missing.append(f"{path} <{param.name}>")
    assert missing == []


def test_groups_are_registered() -> None:
    root = typer.main.get_command(app)
    assert {"data", "features", "demo"} <= set(root.commands)  # type: ignore[attr-defined]


def test_help_runs() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output
