"""Tests for the deterministic demo data generator (feature_store.demo_data)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from feature_store.demo_data import DemoSizes, generate_frames, write_demo_data

END = datetime(2025, 1, 15, 0, 0, tzinfo=UTC)
SMALL = DemoSizes(drivers=7, customers=11, days=3, trips=500)
TS = "datetime64[ns, UTC]"
# What the generator gave for SMALL, seed 5 before the fare existed (it must still give it).
KNOWN_LABEL_SUM = 274
KNOWN_CONV_SUM = 243.464

EXPECTED_DTYPES: dict[str, dict[str, str]] = {
    "driver_hourly_stats": {
        "driver_id": "int64",
        "event_timestamp": TS,
        "created": TS,
        "conv_rate": "float32",
        "acc_rate": "float32",
        "avg_daily_trips": "int64",
        "rating": "float32",
        "cancel_rate": "float32",
        "online_hours": "int64",
    },
    "customer_profile": {
        "customer_id": "int64",
        "event_timestamp": TS,
        "created": TS,
        "current_balance": "float32",
        "avg_passenger_count": "float32",
        "lifetime_trip_count": "int64",
        "customer_segment": "object",
        "tenure_days": "int64",
    },
    "trips": {
        "trip_id": "int64",
        "driver_id": "int64",
        "customer_id": "int64",
        "event_timestamp": TS,
        "trip_distance_km": "float64",
        "label": "int64",
        "fare": "float64",
    },
}

NUMERIC_FEATURES = [
    "conv_rate",
    "acc_rate",
    "avg_daily_trips",
    "rating",
    "cancel_rate",
    "online_hours",
    "current_balance",
    "avg_passenger_count",
    "lifetime_trip_count",
    "tenure_days",
    "trip_distance_km",
]


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate_frames(sizes=DemoSizes(), seed=42, end=END)


def _between(series: pd.Series, low: float, high: float) -> bool:
    return bool(series.between(low, high).all())


def _pit_join(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Join the latest driver/customer row at or before each trip (point-in-time)."""
    trips = frames["trips"].sort_values("event_timestamp")
    drivers = frames["driver_hourly_stats"].drop(columns="created").sort_values("event_timestamp")
    customers = frames["customer_profile"].drop(columns="created").sort_values("event_timestamp")
    joined = pd.merge_asof(trips, drivers, on="event_timestamp", by="driver_id")
    joined = pd.merge_asof(joined, customers, on="event_timestamp", by="customer_id")
    return joined.sort_values(["event_timestamp", "trip_id"]).reset_index(drop=True)


# --- schema -----------------------------------------------------------------------------------


def test_returns_the_three_tables(frames: dict[str, pd.DataFrame]) -> None:
    assert list(frames) == ["driver_hourly_stats", "customer_profile", "trips"]


@pytest.mark.parametrize("table", list(EXPECTED_DTYPES))
def test_columns_order_and_dtypes(frames: dict[str, pd.DataFrame], table: str) -> None:
    frame = frames[table]
    assert list(frame.columns) == list(EXPECTED_DTYPES[table])
    assert {col: str(dtype) for col, dtype in frame.dtypes.items()} == EXPECTED_DTYPES[table]
    assert isinstance(frame.index, pd.RangeIndex)
    assert not frame.isna().any().any()


def test_row_counts(frames: dict[str, pd.DataFrame]) -> None:
    sizes = DemoSizes()
    assert len(frames["driver_hourly_stats"]) == sizes.drivers * sizes.days * 24
    assert len(frames["customer_profile"]) == sizes.customers * sizes.days
    assert len(frames["trips"]) == sizes.trips


@pytest.mark.parametrize("table", list(EXPECTED_DTYPES))
def test_all_timestamps_inside_window(frames: dict[str, pd.DataFrame], table: str) -> None:
    start, end = pd.Timestamp(END - timedelta(days=14)), pd.Timestamp(END)
    for col in ("event_timestamp", "created"):
        if col in frames[table]:
            assert frames[table][col].min() >= start
            assert frames[table][col].max() < end


def test_driver_hourly_stats_values(frames: dict[str, pd.DataFrame]) -> None:
    df = frames["driver_hourly_stats"]
    assert set(df["driver_id"]) == set(range(1001, 1051))
    assert not df.duplicated(["driver_id", "event_timestamp"]).any()
    assert (df["event_timestamp"].dt.minute == 0).all()
    assert (df["event_timestamp"].dt.second == 0).all()
    assert (df["event_timestamp"].groupby(df["driver_id"]).nunique() == 14 * 24).all()
    assert (df["created"] > df["event_timestamp"]).all()
    assert (df["created"] - df["event_timestamp"] < pd.Timedelta(hours=1)).all()
    for col in ("conv_rate", "acc_rate", "cancel_rate"):
        assert _between(df[col], 0.0, 1.0), col
    assert _between(df["rating"], 1.0, 5.0)
    assert _between(df["avg_daily_trips"], 0, 200)
    assert _between(df["online_hours"], 0, 24)
    # Values drift over time within each driver (point-in-time correctness matters).
    per_driver = df.groupby("driver_id")
    for col in ("conv_rate", "acc_rate", "rating", "cancel_rate", "avg_daily_trips"):
        assert (per_driver[col].nunique() > 10).all(), col
    first = per_driver["conv_rate"].first()
    last = per_driver["conv_rate"].last()
    assert float((first - last).abs().mean()) > 0.05


def test_customer_profile_values(frames: dict[str, pd.DataFrame]) -> None:
    df = frames["customer_profile"]
    assert set(df["customer_id"]) == set(range(201, 401))
    assert not df.duplicated(["customer_id", "event_timestamp"]).any()
    ts = df["event_timestamp"]
    assert (ts == ts.dt.normalize()).all()  # midnight UTC
    assert (df["created"] > ts).all()
    assert _between(df["current_balance"], 0.0, 100_000.0)
    assert _between(df["avg_passenger_count"], 1.0, 6.0)
    assert (df["lifetime_trip_count"] >= 0).all()
    assert (df["tenure_days"] >= 0).all()
    assert set(df["customer_segment"]) == {"standard", "plus", "business"}
    ordered = df.sort_values(["customer_id", "event_timestamp"])
    per_customer = ordered.groupby("customer_id")
    assert (per_customer["customer_segment"].nunique() == 1).all()
    assert (per_customer["lifetime_trip_count"].diff().dropna() >= 0).all()
    assert (per_customer["tenure_days"].diff().dropna() == 1).all()


def test_trips_values(frames: dict[str, pd.DataFrame]) -> None:
    df = frames["trips"]
    assert df["trip_id"].tolist() == list(range(1, len(df) + 1))
    assert set(df["driver_id"]) <= set(frames["driver_hourly_stats"]["driver_id"])
    assert set(df["customer_id"]) <= set(frames["customer_profile"]["customer_id"])
    assert df["trip_distance_km"].gt(0).all()
    assert df["trip_distance_km"].le(200).all()
    assert set(df["label"]) == {0, 1}
    assert 0.3 <= df["label"].mean() <= 0.7
    assert df["event_timestamp"].min() >= pd.Timestamp(END - timedelta(days=13))
    on_hour = df["event_timestamp"] == df["event_timestamp"].dt.floor("h")
    assert not on_hour.any()
    expected_order = df.sort_values(["event_timestamp", "trip_id"]).index
    assert (df.index == expected_order).all()


def test_every_trip_has_point_in_time_features(frames: dict[str, pd.DataFrame]) -> None:
    joined = _pit_join(frames)
    assert len(joined) == len(frames["trips"])
    assert not joined.isna().any().any()


# --- end handling ---------------------------------------------------------------------------


def test_default_end_is_now_floored_to_the_hour() -> None:
    before = pd.Timestamp.now(tz="UTC").floor("h")
    frames = generate_frames(sizes=SMALL)
    after = pd.Timestamp.now(tz="UTC").floor("h")
    last_hour = frames["driver_hourly_stats"]["event_timestamp"].max()
    assert last_hour + pd.Timedelta(hours=1) in {before, after}


def test_naive_and_aware_end_are_equivalent() -> None:
    naive = generate_frames(sizes=SMALL, end=END.replace(tzinfo=None))
    aware = generate_frames(sizes=SMALL, end=END)
    shifted = generate_frames(sizes=SMALL, end=END.astimezone(timezone(timedelta(hours=5))))
    for name in aware:
        pd.testing.assert_frame_equal(naive[name], aware[name])
        pd.testing.assert_frame_equal(shifted[name], aware[name])


def test_unaligned_end_keeps_row_counts_and_window() -> None:
    end = datetime(2025, 3, 1, 13, 37, 12, tzinfo=UTC)
    frames = generate_frames(sizes=SMALL, end=end)
    assert len(frames["driver_hourly_stats"]) == SMALL.drivers * SMALL.days * 24
    assert len(frames["customer_profile"]) == SMALL.customers * SMALL.days
    for frame in frames.values():
        assert frame["event_timestamp"].min() >= pd.Timestamp(end - timedelta(days=SMALL.days))
        assert frame["event_timestamp"].max() < pd.Timestamp(end)
    assert not _pit_join(frames).isna().any().any()


# --- files and determinism -------------------------------------------------------------------


def test_write_creates_dir_and_roundtrips(tmp_path: Path) -> None:
    out_dir = tmp_path / "nested" / "data"
    paths = write_demo_data(out_dir=out_dir, sizes=SMALL, end=END)
    assert paths == {
        "driver_hourly_stats": out_dir / "driver_hourly_stats.parquet",
        "customer_profile": out_dir / "customer_profile.parquet",
        "trips": out_dir / "trips.parquet",
    }
    frames = generate_frames(sizes=SMALL, end=END)
    for name, path in paths.items():
        pd.testing.assert_frame_equal(pd.read_parquet(path), frames[name])


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_demo_data(out_dir=tmp_path / "a", sizes=SMALL, seed=7, end=END)
    second = write_demo_data(out_dir=tmp_path / "b", sizes=SMALL, seed=7, end=END)
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes(), name


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    first = write_demo_data(out_dir=tmp_path / "a", sizes=SMALL, seed=7, end=END)
    second = write_demo_data(out_dir=tmp_path / "b", sizes=SMALL, seed=8, end=END)
    for name in first:
        assert first[name].read_bytes() != second[name].read_bytes(), name


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["drivers", "customers", "days", "trips"])
@pytest.mark.parametrize("value", [0, -1])
def test_non_positive_sizes_raise(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=field):
        generate_frames(sizes=replace(DemoSizes(), **{field: value}), end=END)


def test_one_day_window_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="days"):
        write_demo_data(out_dir=tmp_path, sizes=replace(SMALL, days=1), end=END)
    assert not list(tmp_path.iterdir())


# --- signal ----------------------------------------------------------------------------------


def test_point_in_time_features_predict_the_label(frames: dict[str, pd.DataFrame]) -> None:
    joined = _pit_join(frames)
    cut = int(len(joined) * 0.8)
    train, test = joined.iloc[:cut], joined.iloc[cut:]
    assert train["event_timestamp"].max() <= test["event_timestamp"].min()
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), NUMERIC_FEATURES),
                ("seg", OneHotEncoder(handle_unknown="ignore"), ["customer_segment"]),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )
    model.fit(train, train["label"])
    auc = roc_auc_score(test["label"], model.predict_proba(test)[:, 1])
    print(f"\nPIT logistic regression holdout ROC AUC: {auc:.4f}")
    assert auc >= 0.75


def test_fare_is_a_learnable_regression_target(frames: dict[str, pd.DataFrame]) -> None:
    """The fare follows distance, segment and driver supply: a linear model on the point-in-time
    features explains most of it on a later holdout."""
    from sklearn.linear_model import LinearRegression

    joined = _pit_join(frames)
    assert (joined["fare"] > 0).all()
    assert joined["fare"].round(2).equals(joined["fare"])
    joined["log_distance"] = np.log(joined["trip_distance_km"])
    columns = ["log_distance", "online_hours", "avg_passenger_count"]
    x = pd.concat(
        [joined[columns], pd.get_dummies(joined["customer_segment"], dtype=float)], axis=1
    )
    y = np.log(joined["fare"])
    cut = int(len(joined) * 0.8)
    model = LinearRegression().fit(x.iloc[:cut], y.iloc[:cut])
    r2 = model.score(x.iloc[cut:], y.iloc[cut:])
    print(f"\nlog-fare linear regression holdout R2: {r2:.4f}")
    assert r2 >= 0.9


def test_adding_the_fare_left_every_other_value_unchanged() -> None:
    """The fare has its own generator: the label and every feature are what they were."""
    frames = generate_frames(sizes=SMALL, seed=5, end=END)
    assert frames["trips"]["label"].sum() == KNOWN_LABEL_SUM
    assert round(float(frames["driver_hourly_stats"]["conv_rate"].sum()), 3) == KNOWN_CONV_SUM


# --- timing (reported, not asserted) ---------------------------------------------------------


def test_report_large_generation_time() -> None:
    sizes = DemoSizes(drivers=1000, customers=1000, days=42, trips=200_000)
    started = time.perf_counter()
    frames = generate_frames(sizes=sizes, seed=42, end=END)
    elapsed = time.perf_counter() - started
    rows = len(frames["driver_hourly_stats"])
    print(f"\ngenerate_frames({sizes}) took {elapsed:.2f}s for {rows:,} driver rows")
    assert rows == 1000 * 42 * 24
    assert np.isfinite(frames["trips"]["label"].mean())
