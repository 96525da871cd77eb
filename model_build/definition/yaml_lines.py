"""YAML read with its line numbers (ruamel round-trip), for messages that name the line.

A small copy of what ``model_deploy.manifest.loader`` does privately; both could share one
helper in ``foundation`` (layer 1), which this layer cannot add.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

_MAX_DEPTH: Final = 64


class YamlLinesError(ValueError):
    """The text is not YAML; ``line`` is where the parser stopped (1-based), when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


def parse_yaml(text: str) -> Any:
    """The round-trip document (mappings keep their key lines).

    Raises:
        YamlLinesError: Invalid YAML, or nesting deeper than any model definition needs.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if max((len(line) - len(line.lstrip(" ")) for line in text.splitlines()), default=0) > 128:
        raise YamlLinesError(f"nesting is deeper than {_MAX_DEPTH} levels", None)
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlLinesError(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from exc
    except (YAMLError, RecursionError, ValueError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise YamlLinesError(f"invalid YAML: {detail}", None) from exc


def plain(node: Any) -> Any:
    """Round-trip nodes as plain Python values (dicts, lists, str, int, float, bool, None)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

    if isinstance(node, CommentedMap | dict):
        return {_key(key): plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq | list | tuple):
        return [plain(item) for item in node]
    if isinstance(node, TaggedScalar):
        return node.value
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, datetime | date):
        return node.isoformat()
    return str(node)


def line_of(document: Any, loc: Sequence[Any]) -> int | None:
    """1-based line of the deepest key of ``loc`` present in ``document`` (None if none is)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node, line = document, None
    for part in loc:
        if isinstance(node, CommentedMap):
            key = next((k for k in node if str(_key(k)) == str(part)), _MISSING)
            if key is _MISSING:
                break
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


_MISSING: Final = object()


def _key(key: Any) -> Any:
    value = plain(key)
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
