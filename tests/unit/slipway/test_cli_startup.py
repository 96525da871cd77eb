"""The CLI starts fast: importing it pulls in no heavy library, and every read command has JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import typer

from slipway.cli import app

#: Libraries that cost seconds to import; only the commands that use them may import them.
HEAVY = (
    "feast",
    "great_expectations",
    "sagemaker",
    "sklearn",
    "boto3",
    "botocore",
    "matplotlib",
    "mlflow",
    "pandas",
    "pyarrow",
    "github",
    "fastapi",
    "uvicorn",
)


def _imported_after(statement: str) -> list[str]:
    probe = (
        f"import sys, json; {statement}; "
        f"sys.__stdout__.write(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return list(json.loads(done.stdout))


def test_importing_the_cli_imports_no_heavy_library() -> None:
    assert _imported_after("import slipway.cli") == []


def test_help_imports_no_heavy_library() -> None:
    statement = (
        "from slipway.cli.app import run; import contextlib, io; "
        "contextlib.redirect_stdout(io.StringIO()).__enter__(); run(['--help'])"
    )
    assert _imported_after(statement) == []


def test_the_probe_sees_a_heavy_import() -> None:
    assert "sklearn" in _imported_after("import sklearn")


def _walk(command: Any, path: str = "slipway") -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(_walk(sub, f"{path} {name}"))
    return found


#: Commands that change state (their output is a report, not state to read) or run servers.
_NOT_READS = {
    "slipway demo",
    "slipway features serve",
    "slipway ci pr approve",
    "slipway ci pr merge",
    "slipway models approve",
    "slipway models reject",
    "slipway build compile",
}


def test_every_read_command_offers_json() -> None:
    missing = []
    for path, command in _walk(typer.main.get_command(app)):
        if getattr(command, "commands", None) or path in _NOT_READS:
            continue
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if "--format" not in options:
            missing.append(path)
    assert missing == []


def test_a_one_command_group_stays_a_group() -> None:
    from slipway.cli.predict import predict_app

    group = typer.main.get_command(predict_app)
    assert "batch" in getattr(group, "commands", {})
    (batch,) = group.commands.values()  # type: ignore[attr-defined]
    assert "--format" in {opt for param in batch.params for opt in getattr(param, "opts", [])}
