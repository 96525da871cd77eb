"""The one renderer of the CLI: every command hands its result object here.

``--format text`` (the default) draws the result for people: a rich renderable or plain text
built by the command's own ``text`` function, or the result's ``to_text()``. ``--format json``
prints one JSON document: the result's ``to_json()``, else its dataclass fields or pydantic
dump, with times as ISO 8601 and paths as strings. ``--output FILE`` writes there instead.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer


class OutputFormat(StrEnum):
    """How a command prints its answer."""

    TEXT = "text"
    JSON = "json"


class PlanFormat(StrEnum):
    """Formats of a deploy plan (markdown is the pull request comment)."""

    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="text: for people; json: one JSON document for scripts.",
        case_sensitive=False,
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of stdout.", dir_okay=False),
]

TextView = Callable[[Any], Any]
"""Turns a result into what a person reads: a string or any rich renderable."""


def emit(
    result: Any,
    fmt: OutputFormat | PlanFormat | str = OutputFormat.TEXT,
    *,
    text: TextView | None = None,
    output: Path | None = None,
) -> None:
    """Print ``result`` in ``fmt`` on stdout (or into ``output``)."""
    kind = str(fmt.value if isinstance(fmt, Enum) else fmt)
    if kind == "json":
        _write(json.dumps(to_jsonable(result), indent=2, allow_nan=False) + "\n", output)
        return
    if kind == "markdown":
        _write(_call(result, "to_markdown"), output)
        return
    view = text(result) if text is not None else _call(result, "to_text")
    if isinstance(view, str):
        _write(view if view.endswith("\n") or not view else view + "\n", output)
        return
    from rich.console import Console

    if output is None:
        Console(highlight=False).print(view)
        return
    with output.open("w", encoding="utf-8") as handle:
        Console(file=handle, highlight=False, width=120, no_color=True).print(view)


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (objects with ``to_json`` are asked first)."""
    if hasattr(value, "to_json") and callable(value.to_json):
        return to_jsonable(value.to_json())
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def _call(result: Any, method: str) -> str:
    render = getattr(result, method, None)
    if render is None:
        raise typer.BadParameter(f"this command has no {method.removeprefix('to_')} output")
    return str(render())


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
