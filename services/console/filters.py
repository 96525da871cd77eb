"""Jinja2 filters of the console's templates: times, commits, metrics, durations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

from foundation.metrics import format_metric


def when(moment: datetime | str | None) -> str:
    """``2026-03-01 12:00 UTC`` (``-`` for none; an unparsable text as it is)."""
    if moment is None or moment == "":
        return "-"
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def duration(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``2.0 d`` (``-`` for none)."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def short(sha: str | None) -> str:
    """The first 7 characters of a commit (``-`` for none or ``unknown``)."""
    return sha[:7] if sha and sha != "unknown" else "-"


def metric(value: float | None, name: str) -> str:
    """A metric value as the CLI prints it."""
    return "-" if value is None else format_metric(name, value)


def signed(value: float | None) -> str:
    """A delta with its sign (``+0.0123``)."""
    return "-" if value is None else f"{value:+.4g}"


def install(env: Environment) -> None:
    """Register the filters on ``env``."""
    filters: dict[str, Any] = {
        "when": when,
        "duration": duration,
        "short": short,
        "metric": metric,
        "signed": signed,
    }
    env.filters.update(filters)
