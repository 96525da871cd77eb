"""Times and durations as people type them on a command line or in a manifest."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from foundation.errors import SlipwayError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class TimeFormatError(SlipwayError, ValueError):
    """A time or duration that does not parse; the message names the option and the text."""


def parse_time(value: str | None, *, option: str = "time") -> datetime | None:
    """An ISO 8601 time as an aware datetime (naive means UTC); None stays None.

    Raises:
        TimeFormatError: ``value`` is not ISO 8601.
    """
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TimeFormatError(f"{option}: not an ISO 8601 time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_duration(value: str, *, option: str = "duration") -> timedelta:
    """A duration such as ``90s``, ``15m``, ``24h``, ``7d`` or ``2w``.

    Raises:
        TimeFormatError: ``value`` is not a number followed by one of s, m, h, d, w.
    """
    match = _DURATION.match(value)
    if match is None:
        raise TimeFormatError(
            f"{option}: not a duration: {value!r} (expected e.g. 90s, 15m, 24h, 7d, 2w)"
        )
    amount, unit = float(match.group(1)), match.group(2)
    return timedelta(**{_UNITS[unit]: amount})


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
