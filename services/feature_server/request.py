"""Parsing of Feast's ``/get-online-features`` request body (shape checks, limits).

The body is parsed with orjson and checked field by field (no pydantic on the hot path); the
same fields are documented for clients by
``services.feature_server.schemas.GetOnlineFeaturesRequest``.
Unknown top-level fields are ignored, as Feast's server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from services.feature_server.errors import BadRequestError, TooLargeError, ValidationError


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
        BadRequestError: Not JSON.
        ValidationError: A field has the wrong shape; the message names it.
        TooLargeError: More entity rows than allowed.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError("request body is not valid JSON") from exc
    if type(data) is not dict:
        raise ValidationError("request body must be a JSON object")
    service = data.get("feature_service")
    if service is not None and type(service) is not str:
        raise ValidationError("'feature_service' must be a string")
    features = data.get("features", [])
    if type(features) is not list or any(type(f) is not str for f in features):
        raise ValidationError("'features' must be a list of 'view:feature' strings")
    full = data.get("full_feature_names", False)
    include = data.get("include_feature_view_version_metadata", False)
    for name, flag in (
        ("full_feature_names", full),
        ("include_feature_view_version_metadata", include),
    ):
        if type(flag) is not bool:
            raise ValidationError(f"{name!r} must be true or false")
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
