"""YAML read with its line numbers (ruamel round-trip), for messages that name the line.

The one helper behind every strict YAML loader that reports ``file:line: field: problem``
(model definitions, deploy manifests, the environments file). ruamel is imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

from foundation.errors import SlipwayError

MAX_DEPTH: Final = 64
"""Brackets or indentation levels beyond which a text is refused (parsing would crawl)."""


class YamlLinesError(SlipwayError):
    """The text is not YAML; ``line`` is where the parser stopped (1-based), when known.

    ``message`` starts with ``invalid YAML:`` or names the nesting limit; callers wrap it in
    their area's error with the file name.
    """

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


def too_deep(text: str) -> bool:
    """Whether brackets or indentation nest deeper than :data:`MAX_DEPTH` levels."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    indent = max((len(line) - len(line.lstrip(" ")) for line in text.splitlines()), default=0)
    return deepest > MAX_DEPTH or indent > 2 * MAX_DEPTH


def parse_yaml(text: str) -> Any:
    """The round-trip document (mappings keep their key lines); None for an empty text.

    Raises:
        YamlLinesError: Invalid YAML, or nesting deeper than :data:`MAX_DEPTH`.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if too_deep(text):
        raise YamlLinesError(f"nesting is deeper than {MAX_DEPTH} levels", None)
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlLinesError(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from exc
    except (YAMLError, RecursionError, ValueError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise YamlLinesError(f"invalid YAML: {detail}", None) from exc


def plain(node: Any, *, iso_dates: bool = False) -> Any:
    """Round-trip nodes as plain Python values (dicts, lists, str, int, float, bool, None).

    Timestamps become plain ``datetime``/``date`` objects, or ISO strings with ``iso_dates``.
    Booleans stay booleans (never the int subclass ruamel may return).
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

    if isinstance(node, CommentedMap | dict):
        return {plain_key(key): plain(value, iso_dates=iso_dates) for key, value in node.items()}
    if isinstance(node, CommentedSeq | list | tuple):
        return [plain(item, iso_dates=iso_dates) for item in node]
    if isinstance(node, TaggedScalar):
        return node.value
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime):
        if iso_dates:
            return node.isoformat()
        return datetime(
            node.year, node.month, node.day, node.hour, node.minute, node.second,
            node.microsecond, tzinfo=node.tzinfo,
        )  # fmt: skip
    if isinstance(node, date):
        return node.isoformat() if iso_dates else date(node.year, node.month, node.day)
    return str(node)


def plain_key(key: Any) -> Any:
    """A mapping key as a plain scalar (anything else as its string)."""
    value = plain(key)
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def locate(
    root: Any, loc: Sequence[Any], *, missing: bool = False
) -> tuple[list[str | int], int | None]:
    """Follow a location (a pydantic error's ``loc``) through the round-trip tree.

    Returns the parts found (as a path) and the 1-based line of the deepest one. Parts that
    are not keys of the YAML (discriminated-union tags, ``[key]``) are skipped; with
    ``missing`` a last part that is absent (a missing field) is kept and its line is its
    parent mapping's.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node: Any = root
    path: list[str | int] = []
    line: int | None = None
    for position, part in enumerate(loc):
        key = _find_key(node, part) if isinstance(node, CommentedMap) else _MISSING
        if key is not _MISSING:
            line = node.lc.key(key)[0] + 1
            path.append(part)
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            path.append(part)
            node = node[part]
        elif part == "[key]":
            continue
        elif missing and position == len(loc) - 1:
            path.append(part)
            if line is None and isinstance(node, CommentedMap):
                line = node.lc.line + 1
    return path, line


def line_of(document: Any, loc: Sequence[Any]) -> int | None:
    """1-based line of the deepest part of ``loc`` present in ``document`` (None if none is)."""
    return locate(document, loc)[1]


_MISSING: Final = object()


def _find_key(node: Any, part: Any) -> Any:
    for key in node:
        if key == part or str(plain_key(key)) == str(part):
            return key
    return _MISSING
