"""Slipway's declarative Feast repo: entities, sources, feature views and feature services.

Nothing here reads the environment: the same definitions are applied to every store
configuration (``feature_store.yaml`` for the embedded default, ``feature_store.redis.yaml``,
``feature_store.aws.yaml``). Relative source paths resolve against the repo folder.

Data contract (written by ``slipway data generate``, checked by ``expectations/<source>.json``):

* ``data/driver_hourly_stats.parquet``: one row per driver and hour.
* ``data/customer_profile.parquet``: one row per customer and day.
* ``data/trips.parquet``: one row per trip with the binary ``label`` (trip completed) that the
  driver ranking model learns and the ``fare`` the trip fare model (regression) learns; it is
  the entity/label source for training sets, not a feature view.
"""

from datetime import timedelta
from typing import Any

from feast import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    Project,
    PushSource,
    RequestSource,
)
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float32, Float64, Int64, String
from feast.value_type import ValueType

project = Project(name="slipway", description="Slipway demo: driver ranking features")

driver = Entity(
    name="driver",
    join_keys=["driver_id"],
    value_type=ValueType.INT64,
    description="A driver on the platform",
)
customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A customer booking trips",
)

driver_hourly_stats_source = FileSource(
    name="driver_hourly_stats",
    path="data/driver_hourly_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    description="Hourly driver statistics",
)
customer_profile_source = FileSource(
    name="customer_profile",
    path="data/customer_profile.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    description="Daily customer profile snapshots",
)
trips_source = FileSource(
    name="trips",
    path="data/trips.parquet",
    timestamp_field="event_timestamp",
    description="Trips with the completed label and the fare (training entity/label source)",
)

driver_stats_push_source = PushSource(
    name="driver_stats_push",
    batch_source=driver_hourly_stats_source,
    description="Streaming updates of driver statistics",
)

DRIVER_FIELDS = [
    Field(name="conv_rate", dtype=Float32, description="Share of offers the driver converts"),
    Field(name="acc_rate", dtype=Float32, description="Share of offers the driver accepts"),
    Field(name="avg_daily_trips", dtype=Int64, description="Average trips per day"),
    Field(name="rating", dtype=Float32, description="Average rating, 1 to 5"),
    Field(name="cancel_rate", dtype=Float32, description="Share of accepted trips cancelled"),
    Field(name="online_hours", dtype=Int64, description="Hours online in the last day"),
]

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=DRIVER_FIELDS,
    online=True,
    source=driver_hourly_stats_source,
    tags={"team": "marketplace"},
)

driver_hourly_stats_fresh = FeatureView(
    name="driver_hourly_stats_fresh",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=DRIVER_FIELDS,
    online=True,
    source=driver_stats_push_source,
    tags={"team": "marketplace"},
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=2),
    schema=[
        Field(name="current_balance", dtype=Float32, description="Wallet balance"),
        Field(name="avg_passenger_count", dtype=Float32, description="Mean passengers per trip"),
        Field(name="lifetime_trip_count", dtype=Int64, description="Trips taken so far"),
        Field(name="customer_segment", dtype=String, description="standard, plus or business"),
        Field(name="tenure_days", dtype=Int64, description="Days since sign-up"),
    ],
    online=True,
    source=customer_profile_source,
    tags={"team": "growth"},
)

trip_request = RequestSource(
    name="trip_request",
    schema=[Field(name="trip_distance_km", dtype=Float64)],
    description="Values known only when the trip is requested",
)


@on_demand_feature_view(
    sources=[driver_hourly_stats, trip_request],
    schema=[
        Field(name="pickup_score", dtype=Float64),
        Field(name="distance_per_daily_trip", dtype=Float64),
    ],
    mode="python",
    description="Request-time features combining driver stats and the requested trip",
)
def trip_context(inputs: dict[str, Any]) -> dict[str, Any]:
    """Compute request-time features; a missing driver value yields a missing output."""
    scores: list[float | None] = []
    ratios: list[float | None] = []
    for conv, acc, trips, dist in zip(
        inputs["conv_rate"],
        inputs["acc_rate"],
        inputs["avg_daily_trips"],
        inputs["trip_distance_km"],
        strict=True,
    ):
        scores.append(None if conv is None or acc is None else float(conv) * float(acc))
        ratios.append(None if trips is None or dist is None else float(dist) / (1.0 + float(trips)))
    return {"pickup_score": scores, "distance_per_daily_trip": ratios}


@on_demand_feature_view(
    sources=[driver_hourly_stats, trip_request],
    schema=[
        Field(name="log_distance_km", dtype=Float64),
        Field(name="supply_gap", dtype=Float64),
    ],
    mode="python",
    description="Request-time fare features: log trip distance, missing driver online hours",
)
def trip_fare_context(inputs: dict[str, Any]) -> dict[str, Any]:
    """Compute fare features; a missing input yields a missing output."""
    import math  # inside: Feast runs the function body apart from this module

    logs: list[float | None] = []
    gaps: list[float | None] = []
    for online, dist in zip(inputs["online_hours"], inputs["trip_distance_km"], strict=True):
        logs.append(None if dist is None or dist <= 0 else math.log(float(dist)))
        gaps.append(None if online is None else max(0.0, 6.0 - float(online)))
    return {"log_distance_km": logs, "supply_gap": gaps}


driver_ranking_v1 = FeatureService(
    name="driver_ranking_v1",
    features=[driver_hourly_stats, customer_profile, trip_context],
    description="Features of the driver ranking model, version 1",
    tags={"model": "driver_ranking"},
)

trip_fare_v1 = FeatureService(
    name="trip_fare_v1",
    features=[
        customer_profile[["customer_segment", "avg_passenger_count"]],
        driver_hourly_stats[["online_hours", "rating"]],
        trip_fare_context,
    ],
    description="Features of the trip fare model (regression), version 1",
    tags={"model": "trip_fare"},
)

driver_activity_v1 = FeatureService(
    name="driver_activity_v1",
    features=[driver_hourly_stats[["conv_rate", "acc_rate", "avg_daily_trips"]]],
    description="Small driver activity vector for dashboards",
)
