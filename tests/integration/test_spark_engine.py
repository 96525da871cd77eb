"""The spark store configuration on Spark ``local[2]``: the same answers as the local path.

Two copies of the feature repo hold the same demo data. One runs the ``spark`` configuration
(the data gate on Spark DataFrames, Feast's Spark offline store, ``spark.engine`` writing to a
Redis server), the other the ``redis`` configuration (the gate on pandas, Feast's file store
and local engine writing to another Redis server). What the two write and return must be the
same: every Redis key and field byte for byte, the same gate outcomes, the same training frame.

One Spark session serves the module (it is started once, before Feast would start its own,
and stopped at the end). Marked ``slow``: the module takes one to three minutes on two cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kits.servers import redis_server

from feature_store.demo_data import DemoSizes, write_demo_data
from feature_store.errors import SparkUnavailableError, ValidationFailedError
from feature_store.gate import SourceReport, validate_sources
from feature_store.materialization import MaterializeResult, materialize
from feature_store.online import read_online
from feature_store.registry_sync import apply
from feature_store.repo import FeatureRepo
from feature_store.settings import FeatureEnv
from feature_store.training import get_training_frame
from foundation.ports import LOOPBACK

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("spark")]

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 11, 1, tzinfo=UTC)
SIZES = DemoSizes(drivers=6, customers=8, days=3, trips=120)
WINDOW: dict[str, Any] = {"start": END - timedelta(days=5), "end": END, "now": END}
SPARK_ENV = {
    "SLIPWAY_SPARK_MASTER": "local[2]",
    "SLIPWAY_SPARK_CONF": '{"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"}',
}


@dataclass
class Pair:
    """The same data under both configurations, and the Redis server each writes to."""

    spark: FeatureRepo
    local: FeatureRepo
    spark_redis: int
    local_redis: int


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    """The module's one Spark session on ``local[2]`` (skips without pyspark or Java)."""
    from feature_store.spark.session import check_spark_available, repo_spark_session, stop_spark

    with pytest.MonkeyPatch.context() as patch:
        for key, value in SPARK_ENV.items():
            patch.setenv(key, value)
        try:
            check_spark_available()
        except SparkUnavailableError as exc:
            pytest.skip(str(exc))
        session = repo_spark_session(ROOT / "feature_repo")
        try:
            yield session
        finally:
            stop_spark()


def _copy(target: Path, env: FeatureEnv, redis_port: int) -> FeatureRepo:
    import shutil

    shutil.copytree(
        ROOT / "feature_repo", target, ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    write_demo_data(out_dir=target / "data", sizes=SIZES, seed=11, end=END)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLIPWAY_REDIS_URL", f"{LOOPBACK}:{redis_port}")
        repo = FeatureRepo(path=target, env=env)
        _ = repo.config  # read now: the URL is fixed in the config from here on
    apply(repo=repo)
    return repo


@pytest.fixture(scope="module")
def pair(spark_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    del spark_session
    with ExitStack() as stack:
        spark_redis = stack.enter_context(redis_server())
        local_redis = stack.enter_context(redis_server())
        root = tmp_path_factory.mktemp("spark_pair")
        with pytest.MonkeyPatch.context() as patch:
            for key, value in SPARK_ENV.items():
                patch.setenv(key, value)
            yield Pair(
                spark=_copy(root / "spark", "spark", spark_redis),
                local=_copy(root / "local", "redis", local_redis),
                spark_redis=spark_redis,
                local_redis=local_redis,
            )


def redis_dump(port: int) -> list[tuple[bytes, list[tuple[bytes, bytes]]]]:
    """Every key of the server with its hash fields, sorted: the online store byte for byte."""
    import redis

    with redis.Redis(host=LOOPBACK, port=port) as client:
        keys = sorted(client.scan_iter(count=1000))
        return [(key, sorted(client.hgetall(key).items())) for key in keys]


@dataclass
class Materialized:
    spark: MaterializeResult
    local: MaterializeResult
    spark_dump: list[Any]
    local_dump: list[Any]


@pytest.fixture(scope="module")
def materialized(pair: Pair) -> Materialized:
    spark = materialize(repo=pair.spark, **WINDOW)
    local = materialize(repo=pair.local, **WINDOW)
    return Materialized(
        spark=spark,
        local=local,
        spark_dump=redis_dump(pair.spark_redis),
        local_dump=redis_dump(pair.local_redis),
    )


def outcomes(reports: list[SourceReport]) -> dict[str, list[tuple[Any, ...]]]:
    """What each expectation found, as far as both engines say it.

    Type checks differ in kind: pandas looks at every value (an unexpected count), Spark at
    the schema (no count; the observed name is ``LongType``, not ``int64``). Their verdicts
    must still agree.
    """
    return {
        report.source: [
            (
                o.expectation,
                o.column,
                o.success,
                None if "_type" in o.expectation else o.unexpected_count,
                o.severity,
            )
            for o in report.outcomes
        ]
        for report in reports
    }


def bad_driver_batch(path: Path) -> None:
    """Break the driver data: nulls, out-of-range rates and duplicate keys."""
    frame = pd.read_parquet(path)
    frame["conv_rate"] = frame["conv_rate"].where(frame.index % 7 != 0)
    frame.loc[frame.index % 5 == 0, "acc_rate"] = np.float32(3.0)
    pd.concat([frame, frame.tail(3)], ignore_index=True).to_parquet(path, index=False)


def test_spark_engine_writes_what_the_local_engine_writes(
    pair: Pair, materialized: Materialized
) -> None:
    assert materialized.spark.views == materialized.local.views
    assert len(materialized.spark_dump) >= SIZES.drivers + SIZES.customers
    assert materialized.spark_dump == materialized.local_dump  # every key and field, as bytes
    rows = read_online(
        repo=pair.spark,
        entities={"driver_id": [1001, 1002, 424242]},
        feature_service="driver_activity_v1",
    )
    frame = pd.read_parquet(pair.spark.data_dir / "driver_hourly_stats.parquet")
    latest = frame.sort_values("event_timestamp").groupby("driver_id").tail(1)
    expected = latest.set_index("driver_id")
    for row in rows[:2]:
        assert row["conv_rate"] == pytest.approx(float(expected.loc[row["driver_id"], "conv_rate"]))
        assert row["avg_daily_trips"] == int(expected.loc[row["driver_id"], "avg_daily_trips"])
    assert rows[2]["conv_rate"] is None


def test_spark_gate_reports_what_the_pandas_gate_reports(materialized: Materialized) -> None:
    spark_reports = materialized.spark.reports
    assert [r.source for r in spark_reports] == ["customer_profile", "driver_hourly_stats"]
    assert all(r.raw["meta"]["slipway"]["engine"] == "spark" for r in spark_reports)
    assert all(r.success for r in spark_reports), [r.failures() for r in spark_reports]
    local = outcomes(materialized.local.reports)
    for source, found in outcomes(spark_reports).items():
        for on_spark, on_pandas in zip(found, local[source], strict=True):
            assert on_spark == on_pandas, source
    assert [r.row_count for r in spark_reports] == [r.row_count for r in materialized.local.reports]
    types = {o.observed for r in spark_reports for o in r.outcomes if "of_type" in o.expectation}
    assert "LongType" in types  # the suites' pandas names were checked as Spark types


def test_failing_spark_gate_writes_nothing(pair: Pair, materialized: Materialized) -> None:
    path = pair.spark.data_dir / "driver_hourly_stats.parquet"
    original = path.read_bytes()
    bad_driver_batch(path)
    try:
        with pytest.raises(ValidationFailedError, match="driver_hourly_stats") as caught:
            materialize(repo=pair.spark, **WINDOW)
        assert redis_dump(pair.spark_redis) == materialized.spark_dump  # nothing written
        pandas_view = validate_sources(
            repo_path=pair.spark.path, sources=["driver_hourly_stats"], now=END, engine="pandas"
        )
    finally:
        path.write_bytes(original)
    failed = caught.value.failures["driver_hourly_stats"]
    assert any("not_be_null(conv_rate)" in line for line in failed)
    assert any("between(acc_rate)" in line for line in failed)
    assert any("unique" in line for line in failed)
    # The same failures with the same counts (samples print timestamps per engine).
    heads = sorted(line.split(", e.g.")[0] for line in failed)
    assert heads == sorted(line.split(", e.g.")[0] for line in pandas_view[0].failures())


def test_spark_training_frame_equals_local(pair: Pair) -> None:
    trips = pd.read_parquet(pair.spark.data_dir / "trips.parquet")
    entity_df = trips[["driver_id", "customer_id", "event_timestamp", "trip_distance_km"]]
    extra = pd.DataFrame(
        {
            "driver_id": [424242, 1001, 1002],  # unknown; before any data; past every TTL
            "customer_id": [201, 201, 202],
            "event_timestamp": pd.to_datetime(
                [END - timedelta(hours=3), END - timedelta(days=30), END + timedelta(days=9)],
                utc=True,
            ),
            "trip_distance_km": [1.0, 2.0, 3.0],
        }
    )
    entity_df = pd.concat([entity_df, extra], ignore_index=True)
    entity_df["ask"] = range(len(entity_df))
    entity_df = entity_df.sample(frac=1.0, random_state=3)  # any order: the answer keeps it
    spark = get_training_frame(
        repo=pair.spark, entity_df=entity_df, feature_service="driver_ranking_v1"
    )
    local = get_training_frame(
        repo=pair.local, entity_df=entity_df, feature_service="driver_ranking_v1"
    )
    assert list(spark["ask"]) == list(entity_df["ask"])  # every entity row kept, in order
    assert spark.loc[spark["ask"] >= len(trips), "conv_rate"].isna().all()
    assert spark["conv_rate"].notna().sum() > len(trips) // 2
    pd.testing.assert_frame_equal(spark, local)  # same rows, same values, same dtypes


def test_the_spark_session_runs_local_2(spark_session: Any) -> None:
    assert spark_session.sparkContext.master == "local[2]"
    assert spark_session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert os.environ.get("PYSPARK_PYTHON")
