"""Deterministic demo data with a real, point-in-time dependent signal.

Three tables are generated (see ``feature_repo/definitions.py`` for the data contract):

* ``driver_hourly_stats``: one row per driver and hour. Every driver has a stable base level
  per statistic plus an hourly AR(1) process (and a small daily cycle), so values drift over
  days and a point-in-time join matters.
* ``customer_profile``: one row per customer and day (at midnight UTC); balances and passenger
  counts drift slowly, ``lifetime_trip_count`` only grows, the segment never changes.
* ``trips``: the entity/label source. The binary ``label`` (trip completed) is drawn from a
  logistic model of the driver and customer rows that were current *at the trip's timestamp*
  (the latest row at or before it), the trip distance and unobserved noise. A model trained on
  correct point-in-time features reaches a ROC AUC of roughly 0.85 on a time-based holdout;
  joining the latest-overall driver values instead gives a clearly lower AUC. The regression
  target ``fare`` (quoted fare, in currency units) is a base plus a per-km rate, scaled by the
  customer's segment and passenger count and by a surge that rises when the driver is online
  few hours, times log-normal noise; it is drawn from its own generator, so adding it left
  every other value unchanged.

Everything is drawn from NumPy generators seeded from ``seed``; the same seed, sizes and ``end``
give identical frames and byte-identical Parquet files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["TABLE_NAMES", "DemoSizes", "generate_frames", "write_demo_data"]

TABLE_NAMES: Final[tuple[str, ...]] = ("driver_hourly_stats", "customer_profile", "trips")
"""Names of the generated tables; each is written to ``<name>.parquet``."""

SEGMENTS: Final[tuple[str, ...]] = ("standard", "plus", "business")
"""Allowed values of ``customer_profile.customer_segment``."""

FIRST_DRIVER_ID: Final = 1001
FIRST_CUSTOMER_ID: Final = 201

_NS_PER_SECOND: Final = 1_000_000_000
_NS_PER_HOUR: Final = 3600 * _NS_PER_SECOND
_NS_PER_DAY: Final = 24 * _NS_PER_HOUR
_NS_PER_MS: Final = 1_000_000

_SEGMENT_PROBS: Final = (0.6, 0.3, 0.1)
_SEGMENT_EFFECT: Final = (0.0, 0.5, 1.0)
_SEGMENT_FARE: Final = (1.0, 1.25, 1.7)
_FARE_BASE: Final = 2.5
_FARE_PER_KM: Final = 1.4

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DemoSizes:
    """How much demo data to generate.

    Attributes:
        drivers: Number of drivers (ids ``1001, 1002, ...``).
        customers: Number of customers (ids ``201, 202, ...``).
        days: Length of the time window in days; trips start one day into it, so at least 2.
        trips: Number of trips (ids ``1..trips``).
    """

    drivers: int = 50
    customers: int = 200
    days: int = 14
    trips: int = 20_000

    def validate(self) -> None:
        """Check that every size is usable.

        Raises:
            ValueError: If a size is not a positive integer, or ``days`` is less than 2 (trips
                begin one day into the window so that every trip has feature history).
        """
        for name in ("drivers", "customers", "days", "trips"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
                raise ValueError(f"DemoSizes.{name} must be a positive integer, got {value!r}")
        if self.days < 2:
            raise ValueError(
                f"DemoSizes.days must be at least 2 (trips start one day into the window so "
                f"that features exist), got {self.days}"
            )


def generate_frames(
    *, sizes: DemoSizes, seed: int = 42, end: datetime | None = None
) -> dict[str, pd.DataFrame]:
    """Generate the demo tables in memory.

    Args:
        sizes: Number of drivers, customers, days and trips.
        seed: Seed for every random draw; equal seeds (with equal sizes and ``end``) give equal
            frames.
        end: Exclusive end of the time window; the window is ``[end - days, end)``. Defaults to
            the current time in UTC floored to the hour. A naive datetime is taken to be UTC,
            an aware one is converted to UTC.

    Returns:
        Frames keyed ``driver_hourly_stats``, ``customer_profile`` and ``trips``; timestamps
        are ``datetime64[ns, UTC]``, the index is a plain ``RangeIndex``.

    Raises:
        ValueError: If a size is not positive or ``days`` is less than 2.
    """
    sizes.validate()
    end_ns = _end_ns(end)
    start_ns = end_ns - sizes.days * _NS_PER_DAY
    # Spawned children depend only on their index: the fare generator (5th) changes no others.
    driver_rng, customer_rng, trip_rng, label_rng, fare_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(5)
    )

    drivers, driver_grid = _driver_hourly_stats(
        driver_rng, sizes=sizes, start_ns=start_ns, end_ns=end_ns
    )
    customers = _customer_profile(customer_rng, sizes=sizes, start_ns=start_ns, end_ns=end_ns)
    trips = _trips(
        trip_rng,
        label_rng,
        fare_rng,
        sizes=sizes,
        start_ns=start_ns,
        end_ns=end_ns,
        drivers=drivers,
        driver_grid=driver_grid,
        customers=customers,
    )
    return {"driver_hourly_stats": drivers, "customer_profile": customers, "trips": trips}


def write_demo_data(
    *, out_dir: Path, sizes: DemoSizes, seed: int = 42, end: datetime | None = None
) -> dict[str, Path]:
    """Generate the demo tables and write them as Parquet files.

    Files are written with pyarrow (snappy compression, no pandas index, fixed row order), so
    the same ``seed``, ``sizes`` and ``end`` give byte-identical files.

    Args:
        out_dir: Folder for the files; created (with parents) if missing.
        sizes: Number of drivers, customers, days and trips.
        seed: Seed for every random draw.
        end: Exclusive end of the time window; see :func:`generate_frames`.

    Returns:
        Path of each written file keyed by table name, e.g.
        ``{"trips": out_dir / "trips.parquet", ...}``.

    Raises:
        ValueError: If a size is not positive or ``days`` is less than 2.
    """
    frames = generate_frames(sizes=sizes, seed=seed, end=end)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in TABLE_NAMES:
        path = out_dir / f"{name}.parquet"
        table = pa.Table.from_pandas(frames[name], preserve_index=False)
        pq.write_table(table, path, compression="snappy")
        paths[name] = path
    return paths


def _end_ns(end: datetime | None) -> int:
    """Return the window end as integer nanoseconds since the epoch (UTC)."""
    if end is None:
        resolved = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    elif end.tzinfo is None or end.utcoffset() is None:
        resolved = end.replace(tzinfo=UTC)
    else:
        resolved = end.astimezone(UTC)
    return int(pd.Timestamp(resolved).value)


def _utc(ns: I64) -> pd.DatetimeIndex:
    """Turn integer epoch nanoseconds into a ``datetime64[ns, UTC]`` index."""
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


def _ceil(value_ns: int, unit_ns: int) -> int:
    """Round ``value_ns`` up to a multiple of ``unit_ns``."""
    return -(-value_ns // unit_ns) * unit_ns


def _sigmoid(x: F64) -> F64:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _ar1(rng: np.random.Generator, *, steps: int, series: int, phi: float) -> F64:
    """Draw ``series`` independent stationary AR(1) processes with unit variance.

    The loop runs over time steps only; each step updates all series at once.

    Returns:
        Array of shape ``(series, steps)``.
    """
    innovation_sd = math.sqrt(1.0 - phi * phi)
    noise = rng.standard_normal((steps, series))
    out = np.empty((steps, series), dtype=np.float64)
    out[0] = noise[0]
    noise[1:] *= innovation_sd
    for step in range(1, steps):
        np.multiply(out[step - 1], phi, out=out[step])
        out[step] += noise[step]
    return np.ascontiguousarray(out.T)


def _created(rng: np.random.Generator, event_ns: I64, *, end_ns: int, max_s: int) -> I64:
    """Return ``created`` = event time plus 1..``max_s`` seconds, kept inside the window."""
    created = event_ns + rng.integers(1, max_s + 1, size=event_ns.shape) * _NS_PER_SECOND
    late = created >= end_ns
    created[late] = event_ns[late] + (end_ns - event_ns[late]) // 2
    return created


@dataclass(frozen=True)
class _DriverGrid:
    """Where the hourly driver rows sit in time (the grid is the same for every driver)."""

    first_hour_ns: int
    hours: int


def _driver_hourly_stats(
    rng: np.random.Generator, *, sizes: DemoSizes, start_ns: int, end_ns: int
) -> tuple[pd.DataFrame, _DriverGrid]:
    """Generate ``driver_hourly_stats``: rows ordered by driver, then hour."""
    n_drivers = sizes.drivers
    hours = sizes.days * 24
    first_hour_ns = _ceil(start_ns, _NS_PER_HOUR)
    hour_ns = first_hour_ns + np.arange(hours, dtype=np.int64) * _NS_PER_HOUR

    # Stable per-driver levels (in logit / log space) ...
    base_conv = rng.normal(0.0, 0.8, n_drivers)
    base_acc = rng.normal(0.6, 0.8, n_drivers)
    base_rating = rng.normal(1.2, 0.7, n_drivers)
    base_cancel = rng.normal(-1.8, 0.6, n_drivers)
    base_trips = rng.normal(math.log(25.0), 0.5, n_drivers)
    base_online = rng.uniform(4.0, 12.0, n_drivers)
    # ... plus hourly AR(1) drift with a correlation time of roughly a day.
    walk = _ar1(rng, steps=hours, series=6 * n_drivers, phi=0.96).reshape(6, n_drivers, hours)
    hour_of_day = (hour_ns // _NS_PER_HOUR) % 24
    daily_cycle = np.sin(2.0 * math.pi * (hour_of_day - 9) / 24.0)[np.newaxis, :]

    conv = _sigmoid(base_conv[:, None] + 0.9 * walk[0] + 0.25 * daily_cycle)
    acc = _sigmoid(base_acc[:, None] + 0.9 * walk[1])
    rating = 1.0 + 4.0 * _sigmoid(base_rating[:, None] + 0.6 * walk[2])
    cancel = _sigmoid(base_cancel[:, None] + 0.6 * walk[3] - 0.15 * daily_cycle)
    trips = np.clip(np.rint(np.exp(base_trips[:, None] + 0.3 * walk[4])), 0, 200)
    online = np.clip(np.rint(base_online[:, None] + 3.0 * walk[5]), 0, 24)

    event_ns = np.tile(hour_ns, n_drivers)
    frame = pd.DataFrame(
        {
            "driver_id": np.repeat(
                np.arange(FIRST_DRIVER_ID, FIRST_DRIVER_ID + n_drivers, dtype=np.int64), hours
            ),
            "event_timestamp": _utc(event_ns),
            "created": _utc(_created(rng, event_ns, end_ns=end_ns, max_s=600)),
            "conv_rate": conv.ravel().astype(np.float32),
            "acc_rate": acc.ravel().astype(np.float32),
            "avg_daily_trips": trips.ravel().astype(np.int64),
            "rating": rating.ravel().astype(np.float32),
            "cancel_rate": cancel.ravel().astype(np.float32),
            "online_hours": online.ravel().astype(np.int64),
        }
    )
    return frame, _DriverGrid(first_hour_ns=first_hour_ns, hours=hours)


def _customer_profile(
    rng: np.random.Generator, *, sizes: DemoSizes, start_ns: int, end_ns: int
) -> pd.DataFrame:
    """Generate ``customer_profile``: rows ordered by customer, then day."""
    n_customers = sizes.customers
    days = sizes.days
    first_day_ns = _ceil(start_ns, _NS_PER_DAY)
    day_ns = first_day_ns + np.arange(days, dtype=np.int64) * _NS_PER_DAY
    day_index = np.arange(days, dtype=np.int64)

    segment_codes = rng.choice(len(SEGMENTS), size=n_customers, p=_SEGMENT_PROBS)
    segment_scale = np.asarray([1.0, 2.5, 6.0])[segment_codes]
    walk = _ar1(rng, steps=days, series=2 * n_customers, phi=0.8).reshape(2, n_customers, days)

    log_balance = rng.normal(math.log(800.0), 1.2, n_customers) + np.log(segment_scale)
    balance = np.clip(np.exp(log_balance[:, None] + 0.35 * walk[0]), 0.0, 100_000.0)
    passengers = 1.0 + 5.0 * _sigmoid(rng.normal(-1.6, 0.7, n_customers)[:, None] + 0.3 * walk[1])

    daily_trip_rate = rng.gamma(2.0, 0.4, n_customers) * segment_scale
    initial_trips = rng.poisson(daily_trip_rate * rng.integers(10, 400, n_customers))
    new_trips = rng.poisson(daily_trip_rate[:, None], size=(n_customers, days))
    lifetime = initial_trips[:, None] + np.cumsum(new_trips, axis=1)
    tenure = rng.integers(0, 1500, n_customers)[:, None] + day_index[None, :]

    event_ns = np.tile(day_ns, n_customers)
    segments = np.asarray(SEGMENTS, dtype=object)[segment_codes]
    return pd.DataFrame(
        {
            "customer_id": np.repeat(
                np.arange(FIRST_CUSTOMER_ID, FIRST_CUSTOMER_ID + n_customers, dtype=np.int64),
                days,
            ),
            "event_timestamp": _utc(event_ns),
            "created": _utc(_created(rng, event_ns, end_ns=end_ns, max_s=1800)),
            "current_balance": balance.ravel().astype(np.float32),
            "avg_passenger_count": passengers.ravel().astype(np.float32),
            "lifetime_trip_count": lifetime.ravel().astype(np.int64),
            "customer_segment": np.repeat(segments, days),
            "tenure_days": tenure.ravel().astype(np.int64),
        }
    )


def _trips(
    trip_rng: np.random.Generator,
    label_rng: np.random.Generator,
    fare_rng: np.random.Generator,
    *,
    sizes: DemoSizes,
    start_ns: int,
    end_ns: int,
    drivers: pd.DataFrame,
    driver_grid: _DriverGrid,
    customers: pd.DataFrame,
) -> pd.DataFrame:
    """Generate ``trips`` with a label that depends on point-in-time features."""
    n_trips = sizes.trips
    lower_ns = start_ns + _NS_PER_DAY
    span_ms = (end_ns - lower_ns) // _NS_PER_MS
    event_ns = np.sort(lower_ns + trip_rng.integers(0, span_ms, n_trips) * _NS_PER_MS)
    # Never exactly on an hour boundary (where a driver row is published).
    on_hour = event_ns % _NS_PER_HOUR == 0
    event_ns[on_hour] += _NS_PER_MS
    event_ns[event_ns >= end_ns] -= 2 * _NS_PER_MS
    event_ns.sort()

    driver_idx = trip_rng.integers(0, sizes.drivers, n_trips)
    customer_idx = trip_rng.integers(0, sizes.customers, n_trips)
    distance = np.clip(np.round(trip_rng.lognormal(math.log(7.0), 0.7, n_trips), 2), 0.1, 200.0)

    # Point-in-time rows: the latest hour / midnight at or before each trip. Drivers and
    # customers are on regular grids, so this index arithmetic equals a backward merge_asof.
    hour_pos = (event_ns - driver_grid.first_hour_ns) // _NS_PER_HOUR
    driver_rows = driver_idx * driver_grid.hours + hour_pos
    first_day_ns = _ceil(start_ns, _NS_PER_DAY)
    customer_rows = customer_idx * sizes.days + (event_ns - first_day_ns) // _NS_PER_DAY

    conv = drivers["conv_rate"].to_numpy(dtype=np.float64)[driver_rows]
    acc = drivers["acc_rate"].to_numpy(dtype=np.float64)[driver_rows]
    rating = drivers["rating"].to_numpy(dtype=np.float64)[driver_rows]
    cancel = drivers["cancel_rate"].to_numpy(dtype=np.float64)[driver_rows]
    balance = customers["current_balance"].to_numpy(dtype=np.float64)[customer_rows]
    segment = customers["customer_segment"].to_numpy()[customer_rows]
    segment_effect = np.select(
        [segment == name for name in SEGMENTS], list(_SEGMENT_EFFECT), default=0.0
    )

    logit = (
        6.0 * (conv * acc)
        + 1.5 * conv
        + 1.2 * (rating - 3.0)
        - 5.0 * cancel
        + segment_effect
        + 0.25 * np.log1p(balance)
        - 0.9 * np.log(distance)
        + label_rng.normal(0.0, 0.5, n_trips)
    )
    logit -= np.median(logit)
    label = (label_rng.random(n_trips) < _sigmoid(logit)).astype(np.int64)

    online = drivers["online_hours"].to_numpy(dtype=np.float64)[driver_rows]
    passengers = customers["avg_passenger_count"].to_numpy(dtype=np.float64)[customer_rows]
    segment_rate = np.select(
        [segment == name for name in SEGMENTS], list(_SEGMENT_FARE), default=1.0
    )
    surge = 1.0 + 0.6 * _sigmoid(1.2 * (6.0 - online))
    fare = (
        (_FARE_BASE + _FARE_PER_KM * distance)
        * segment_rate
        * (1.0 + 0.08 * (passengers - 1.0))
        * surge
        * fare_rng.lognormal(0.0, 0.06, n_trips)
    )

    return pd.DataFrame(
        {
            "trip_id": np.arange(1, n_trips + 1, dtype=np.int64),
            "driver_id": (driver_idx + FIRST_DRIVER_ID).astype(np.int64),
            "customer_id": (customer_idx + FIRST_CUSTOMER_ID).astype(np.int64),
            "event_timestamp": _utc(event_ns),
            "trip_distance_km": distance.astype(np.float64),
            "label": label,
            "fare": np.round(fare, 2).astype(np.float64),
        }
    )
