"""Feast's column-oriented response body, assembled from JSON fragments.

A response is ``{"results": [column, ...], "metadata": {"feature_names": [...]}}`` where each
column is ``{"values": [...], "statuses": [...], "event_timestamps": [...]}``. Most of its bytes
repeat: every column of a view shares the view's timestamps, and statuses are nearly always all
``PRESENT``. So each distinct list is serialized once (the all-``PRESENT`` and all-epoch lists
are remembered per row count) and the body is joined from the pieces. The bytes are exactly
what ``orjson.dumps`` gives for the whole document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from services.feature_server.timestamps import EPOCH

PRESENT: Final = "PRESENT"
NOT_FOUND: Final = "NOT_FOUND"
_MEMO_LIMIT: Final = 256
_VALUES: Final = b'{"values":'
_STATUSES: Final = b',"statuses":'
_STAMPS: Final = b',"event_timestamps":'
_present: dict[int, bytes] = {}
_epochs: dict[int, bytes] = {}


def _repeated(memo: dict[int, bytes], item: str, rows: int) -> bytes:
    found = memo.get(rows)
    if found is None:
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        found = memo[rows] = orjson.dumps([item] * rows)
    return found


def all_present(rows: int) -> bytes:
    """The JSON list of ``rows`` times ``"PRESENT"``."""
    return _repeated(_present, PRESENT, rows)


def all_epoch(rows: int) -> bytes:
    """The JSON list of ``rows`` times the epoch timestamp (no event time)."""
    return _repeated(_epochs, EPOCH, rows)


def dumps(values: Sequence[Any]) -> bytes:
    """Serialize one list (values, statuses or timestamps) as the response does."""
    return orjson.dumps(values)


class ResponseBody:
    """Collects response columns in order and renders the body."""

    __slots__ = ("names", "parts")

    def __init__(self) -> None:
        """Start an empty response."""
        self.names: list[str] = []
        self.parts: list[bytes] = []

    def add(self, name: str, values: bytes, statuses: bytes, stamps: bytes) -> None:
        """Append one column from its three serialized lists.

        ``name`` goes into ``metadata.feature_names``; the other three are JSON lists.
        """
        self.names.append(name)
        self.parts.append(b"".join((_VALUES, values, _STATUSES, statuses, _STAMPS, stamps, b"}")))

    def render(self, metadata: dict[str, Any] | None = None) -> bytes:
        """The whole body: the columns, then ``metadata`` with ``feature_names`` first.

        ``metadata`` holds extra metadata entries after ``feature_names``.
        """
        meta = orjson.dumps({"feature_names": self.names, **(metadata or {})})
        return b"".join((b'{"results":[', b",".join(self.parts), b'],"metadata":', meta, b"}"))
