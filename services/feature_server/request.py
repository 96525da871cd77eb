"""Parsing of Feast's ``/get-online-features`` request body (shape checks, limits).

The body is parsed with orjson and checked field by field (no pydantic on the hot path); the
same fields are documented for clients by
``services.feature_server.schemas.GetOnlineFeaturesRequest``.
Unknown top-level fields are ignored, as Feast's server does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from services.feature_server.errors import (
    BadRequestError,
    TooLargeError,
    UnsupportedMediaError,
    ValidationError,
)

MAX_DEPTH: Final = 1024
"""Deepest nesting of a JSON body (orjson's limit)."""
_DIGITS: Final = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
"""``bytes.translate`` table: digits to ``0``, everything else to a space."""
_LONG_NUMBER: Final = b"0" * 19
_CONSTANTS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_TRUE: Final = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE: Final = frozenset({"0", "off", "f", "false", "n", "no"})


def check_content_type(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Refuse a body that says it is not JSON (no ``Content-Type`` is read as JSON).

    Raises:
        UnsupportedMediaError: The content type is neither ``application/json`` nor ``*+json``.
    """
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            if media == b"application/json" or media.endswith(b"+json"):
                return
            shown = media.decode("latin-1")[:80]
            raise UnsupportedMediaError(
                f"content type {shown!r} is not JSON; send 'Content-Type: application/json'"
            )
    return


def load_json(body: bytes) -> Any:
    """Parse a JSON body exactly: NaN and Infinity literals as floats, big integers exact.

    orjson does the work unless the body holds a 19-digit number (orjson reads integers
    beyond 64 bits as floats, which would lose the value) or a literal it refuses (NaN,
    Infinity: Python's ``json`` writes them for pandas' missing values); Python's ``json``
    parses those bodies.

    Raises:
        BadRequestError: Not JSON, or nested deeper than ``MAX_DEPTH``.
    """
    if _LONG_NUMBER not in body.translate(_DIGITS):  # C-level scan for a 19-digit run
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if str(exc).startswith("depth limit"):
                raise _too_deep() from exc
    try:
        return json.loads(body, parse_constant=_CONSTANTS.__getitem__)
    except RecursionError as exc:
        raise _too_deep() from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError("request body is not valid JSON", code="invalid_json") from exc


def _too_deep() -> BadRequestError:
    return BadRequestError(
        f"request body nests deeper than {MAX_DEPTH} levels", code="json_too_deep"
    )


def flag(name: str, value: Any) -> bool:
    """A boolean field read as pydantic (and so Feast) reads it: ``"true"``, ``1``, ``"off"``...

    Raises:
        ValidationError: Not one of the spellings of true or false.
    """
    kind = type(value)
    if kind is bool:
        return bool(value)
    if (kind is int or kind is float) and value in (0, 1):
        return bool(value)
    if kind is str:
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValidationError(f"{name!r} must be true or false")


@dataclass(frozen=True, slots=True)
class OnlineRequest:
    """A parsed ``/get-online-features`` body (Feast's request fields).

    Attributes:
        features: ``view:feature`` references (used when no feature service is given).
        feature_service: Feature service name.
        entities: Column-oriented entity keys and request-time values.
        rows: Number of entity rows.
        full_feature_names: Whether columns are named ``view__feature``.
        include_metadata: Feast's ``include_feature_view_version_metadata``.
    """

    features: tuple[str, ...] | None
    feature_service: str | None
    entities: dict[str, list[Any]]
    rows: int
    full_feature_names: bool
    include_metadata: bool


def parse_request(body: bytes, *, max_entities: int) -> OnlineRequest:
    """Parse and shape-check a request body (no registry needed).

    ``max_entities`` is the most entity rows allowed.

    Raises:
        BadRequestError: Not JSON, or nested too deep.
        ValidationError: A field has the wrong shape; the message names it.
        TooLargeError: More entity rows than allowed.
    """
    data = load_json(body)
    if type(data) is not dict:
        raise ValidationError("request body must be a JSON object")
    service = data.get("feature_service")
    if service is not None and type(service) is not str:
        raise ValidationError("'feature_service' must be a string")
    features = data.get("features", [])
    if type(features) is not list or any(type(f) is not str for f in features):
        raise ValidationError("'features' must be a list of 'view:feature' strings")
    full = data.get("full_feature_names", False)
    if type(full) is not bool:
        full = flag("full_feature_names", full)
    include = data.get("include_feature_view_version_metadata", False)
    if type(include) is not bool:
        include = flag("include_feature_view_version_metadata", include)
    entities = data.get("entities")
    if type(entities) is not dict or not entities:
        raise ValidationError("'entities' must be a non-empty object of column name to list")
    rows = -1
    for column, values in entities.items():
        if type(values) is not list:
            raise ValidationError(f"entity column {column!r} must be a list")
        if rows < 0:
            rows, first = len(values), column
        elif len(values) != rows:
            raise ValidationError(
                f"entity columns differ in length: {first!r} has {rows} rows, "
                f"{column!r} has {len(values)}",
                code="column_lengths",
            )
    if rows == 0:
        raise ValidationError("entity columns are empty; give at least one row")
    if rows > max_entities:
        raise TooLargeError(
            f"{rows} entity rows exceed the limit of {max_entities} per request",
            code="too_many_entities",
        )
    return OnlineRequest(
        features=None if service else tuple(features),
        feature_service=service or None,
        entities=entities,
        rows=rows,
        full_feature_names=full,
        include_metadata=include,
    )
