"""Hidden markers that let the automation find its own comments, issues and pull requests.

A marker is an HTML comment on the first line of a body: ``<!-- slipway:plan:staging -->``
for a sticky comment, ``<!-- slipway:plan:staging:part:2 -->`` for its second part. A digest
line (``<!-- slipway:digest:<hex> -->``) records what the body was rendered from, so re-running
with the same inputs edits nothing. A metadata line carries machine-readable JSON (what a
promotion changed, for a later revert).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_MARKER = re.compile(r"^<!-- slipway:(?P<key>[A-Za-z0-9_.:/-]+?)(?::part:(?P<part>\d+))? -->")
_DIGEST = re.compile(r"^<!-- slipway:digest:(?P<digest>[0-9a-f]{8,64}) -->$", re.MULTILINE)
_META = re.compile(r"^<!-- slipway:meta (?P<json>\{.*\}) -->$", re.MULTILINE)


def marker(key: str, *, part: int = 1) -> str:
    """The marker line of ``key`` (``plan:staging``), for part 1 or a later part.

    Args:
        key: What the body is (``plan:<env>``, ``deploy:<env>:<sha>``, ``drift``...).
        part: Part number (1 has no suffix).
    """
    return f"<!-- slipway:{key} -->" if part == 1 else f"<!-- slipway:{key}:part:{part} -->"


def parse_marker(body: str) -> tuple[str, int] | None:
    """The key and part of a body's first-line marker.

    Returns:
        ``(key, part)``, or None when the body does not start with a marker.
    """
    match = _MARKER.match(body)
    if match is None:
        return None
    return match.group("key"), int(match.group("part") or 1)


def digest_of(*parts: str) -> str:
    """A short, stable digest of some texts (24 hex characters)."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode("utf-8"))
        hasher.update(b"\0")
    return hasher.hexdigest()[:24]


def digest_line(digest: str) -> str:
    """The hidden line recording a digest."""
    return f"<!-- slipway:digest:{digest} -->"


def parse_digest(body: str) -> str | None:
    """The digest recorded in a body, if any."""
    match = _DIGEST.search(body)
    return match.group("digest") if match else None


def meta_line(data: dict[str, Any]) -> str:
    """A hidden line carrying JSON (``>`` is escaped so the comment cannot end early)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).replace(">", "\\u003e")
    return f"<!-- slipway:meta {text} -->"


def parse_meta(body: str) -> dict[str, Any] | None:
    """The JSON of a body's metadata line, if it has a readable one."""
    match = _META.search(body)
    if match is None:
        return None
    try:
        data = json.loads(match.group("json"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
