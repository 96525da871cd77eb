"""Event timestamps formatted exactly like Feast's server.

Feast's server renders protobuf timestamps as RFC 3339 UTC with a ``Z`` and 0, 3, 6 or 9
fraction digits (``feast.feature_server_utils._timestamp_to_str``); the epoch stands for "no
timestamp" (join keys, request-time outputs, keys the store does not hold).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import import_module
from typing import Any, Final

EPOCH: Final = "1970-01-01T00:00:00Z"
_CACHE_LIMIT: Final = 200_000
_TIMESTAMP: Final[Any] = import_module("google.protobuf.timestamp_pb2").Timestamp

_ts_cache: dict[tuple[int, int], str] = {}


def format_timestamp(seconds: int, nanos: int = 0) -> str:
    """Format a protobuf timestamp like Feast's server (RFC 3339 with ``Z``).

    ``seconds`` since the epoch and ``nanos`` within the second give, for example,
    ``2026-10-31T23:00:00Z`` or ``2026-10-31T23:00:00.250Z``.
    """
    key = (seconds, nanos)
    text = _ts_cache.get(key)
    if text is not None:
        return text
    if seconds == 0 and nanos == 0:
        text = EPOCH
    else:
        base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if nanos == 0:
            text = base + "Z"
        elif nanos % 1_000_000 == 0:
            text = f"{base}.{nanos // 1_000_000:03d}Z"
        elif nanos % 1_000 == 0:
            text = f"{base}.{nanos // 1_000:06d}Z"
        else:
            text = f"{base}.{nanos:09d}Z"
    if len(_ts_cache) >= _CACHE_LIMIT:
        _ts_cache.clear()
    _ts_cache[key] = text
    return text


def format_sqlite_ts(value: Any) -> str:
    """Format an ``event_ts`` cell of Feast's SQLite table (epoch seconds since Feast 0.40).

    ``value`` is the raw cell: an integer of epoch seconds, or an ISO string from older
    writers. An empty cell is the epoch.
    """
    if type(value) is int:
        return format_timestamp(value)
    if value is None:
        return EPOCH
    text = value.decode() if isinstance(value, bytes) else str(value)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micros = moment.microsecond
    return format_timestamp(int(moment.replace(microsecond=0).timestamp()), micros * 1000)


def epoch_seconds(value: Any) -> float:
    """Epoch seconds of an ``event_ts`` cell of Feast's SQLite table (see ``format_sqlite_ts``)."""
    if isinstance(value, int | float):
        return float(value)
    text = value.decode() if isinstance(value, bytes) else str(value)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_redis_ts(raw: bytes | None) -> str:
    """Format the ``_ts:<view>`` field of Feast's Redis hash the way Feast's reader rounds it.

    Feast goes through ``datetime.fromtimestamp(seconds + nanos / 1e9)``, so the result is
    rounded to microseconds.

    ``raw`` is a serialized ``google.protobuf.Timestamp``; a missing field is the epoch.
    """
    if not raw:
        return EPOCH
    text = _redis_ts_cache.get(raw)
    if text is not None:
        return text
    stamp = _TIMESTAMP.FromString(raw)
    moment = datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1_000_000_000.0, tz=UTC)
    seconds = int(moment.replace(microsecond=0).timestamp())
    text = format_timestamp(seconds, moment.microsecond * 1000)
    if len(_redis_ts_cache) >= _CACHE_LIMIT:
        _redis_ts_cache.clear()
    _redis_ts_cache[raw] = text
    return text


_redis_ts_cache: dict[bytes, str] = {}
