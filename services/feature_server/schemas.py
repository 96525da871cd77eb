"""Pydantic models that document the HTTP API in the OpenAPI schema.

The read path does not validate through these models (it parses with orjson and checks fields
itself, see ``services.feature_server.engine``); they describe the same JSON for clients and for
schema-based tests.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

FieldStatus = Literal["INVALID", "PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"]


class GetOnlineFeaturesRequest(BaseModel):
    """Feast's ``/get-online-features`` request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate"],
                    "entities": {"driver_id": [1001, 1002]},
                },
                {
                    "feature_service": "driver_ranking_v1",
                    "entities": {
                        "driver_id": [1001],
                        "customer_id": [201],
                        "trip_distance_km": [4.2],
                    },
                },
            ]
        }
    )

    features: list[str] = Field(
        default_factory=list,
        description="Feature references 'view:feature'; used when no feature_service is given.",
    )
    feature_service: str | None = Field(default=None, description="Feature service to read.")
    entities: dict[str, list[Any]] = Field(
        description="Column-oriented entity keys (join key -> values, one per row) plus "
        "request-time values for on-demand views. Every column has the same length."
    )
    full_feature_names: bool = Field(
        default=False, description="Name columns 'view__feature' instead of 'feature'."
    )
    include_feature_view_version_metadata: bool = Field(
        default=False, description="Add metadata.feature_view_metadata (Feast compatible)."
    )


class FeatureVector(BaseModel):
    """One response column: a value, status and timestamp per entity row."""

    values: list[Any]
    statuses: list[FieldStatus]
    event_timestamps: list[str] = Field(
        description="RFC 3339 UTC; 1970-01-01T00:00:00Z for join keys, request-time outputs "
        "and keys the store does not hold."
    )


class FeatureViewMetadata(BaseModel):
    """Name (and version, when not 0) of a feature view that was read."""

    name: str
    version: int | None = None


class ResponseMetadata(BaseModel):
    """Column names of the response, join keys first."""

    feature_names: list[str]
    feature_view_metadata: list[FeatureViewMetadata] | None = None


class GetOnlineFeaturesResponse(BaseModel):
    """Feast's column-oriented ``/get-online-features`` response."""

    results: list[FeatureVector]
    metadata: ResponseMetadata


class ErrorResponse(RootModel[str]):
    """Every error body, in Feast's format: a JSON string holding a JSON object.

    The object has ``message`` (one line naming the fault), ``code`` (stable) and
    ``request_id``, plus ``module`` and ``class`` naming the ``feast.errors`` exception Feast
    raises for the same fault (its SDK re-raises that class).
    """

    root: str = Field(
        examples=[
            '{"module": "feast.errors", "class": "FeatureViewNotFoundException", '
            '"message": "feature view \'nope\' not found", "code": "unknown_feature_view", '
            '"request_id": "3f2a-1"}'
        ]
    )


class FeatureServiceInfo(BaseModel):
    """A feature service and what a request for it needs."""

    name: str
    description: str
    features: list[str] = Field(description="'view:feature' references in response order.")
    entities: list[str] = Field(description="Join key columns the request must carry.")
    request_fields: list[str] = Field(description="Request-time value columns it needs.")


class FeatureServicesResponse(BaseModel):
    """Feature services this key may read."""

    feature_services: list[FeatureServiceInfo]


class HealthResponse(BaseModel):
    """Liveness."""

    status: Literal["ok"]


class RegistryStatus(BaseModel):
    """Whether the registry snapshot is loaded and how old it is."""

    loaded: bool
    age_seconds: float | None
    last_error: str | None
    feature_services: int


class StoreStatus(BaseModel):
    """Whether the online store answered the readiness probe."""

    type: str
    ok: bool
    error: str | None


class ReadyResponse(BaseModel):
    """Readiness: the registry is loaded and the online store answers."""

    status: Literal["ready", "not_ready"]
    registry: RegistryStatus
    online_store: StoreStatus
    auth: Literal["enabled", "disabled"]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        400: "The body is not JSON.",
        401: "No valid API key (auth enabled).",
        403: "The key may not read this feature service or raw feature list.",
        404: "Unknown feature service, feature view or feature.",
        413: "The body or the number of entity rows exceeds the limit.",
        415: "The body's content type is not JSON.",
        422: "Malformed request: wrong types, unknown or missing columns, unequal lengths.",
        500: "Internal error; the body carries only the request id.",
        503: "Registry not loaded yet or online store unavailable.",
    }.items()
}
