"""Option values parsed the same way by every command group (a bad value is a usage error)."""

from __future__ import annotations

from datetime import datetime

import typer


def time_param(value: str | None, *, option: str) -> datetime | None:
    """An ISO 8601 option value as an aware datetime (naive means UTC); exit 2 when malformed."""
    from foundation.times import TimeFormatError, parse_time

    try:
        return parse_time(value, option=option)
    except TimeFormatError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=option) from exc
