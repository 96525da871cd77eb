"""One contract for every OnlineStoreReader: SQLite (row cache off and on), Redis, Redis
Cluster, DynamoDB.

Each reader reads data Feast itself wrote into its store (``apply``, ``materialize``, then
``write_to_online_store`` for special values and for the rows a test changes), and Feast's own
reader of that store (its online store's ``online_read``) is the oracle: for every key a reader
returns None where Feast finds nothing, else a ``Row`` whose picked values and timestamp are
Feast's, rendered as Feast's server renders them. Where the stores differ (Redis counts a key
without its hash as found with nulls and keeps sub-second timestamps; SQLite keeps whole
seconds), Feast differs the same way, and the tests that pin a difference name it.

Redis is a real ``redis-server`` on a free 127.0.0.1 port, started for the module only when a
Redis case runs (skipped when it is not installed), and stopped after. The Redis Cluster is
three masters (``kits.redis_cluster``), started once per session (per xdist worker) when a
cluster case runs; Feast's cluster writer spreads the keys over the nodes, and an outage freezes
every node. DynamoDB is moto's
server (``kits.servers.moto_server``) behind a proxy that an outage freezes; the repo's
``feature_store.aws.yaml`` points at it (registry on moto's S3).
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest
from kits.feature_repos import DRIVER_FEATURES, driver_frame
from kits.feature_servers import ManagedProcess, redis_process
from kits.online_stores import (
    CITIES,
    CUSTOMERS,
    DRIVERS,
    SPECIAL,
    STAMP,
    PausableProxy,
    Store,
    World,
    build_world,
    dynamodb_parts,
    feast_time,
    oracle,
    picks,
    query,
    redis_cluster_parts,
    redis_parts,
    sqlite_parts,
)
from kits.redis_cluster import RedisClusterKit, redis_cluster
from kits.servers import AWS_TEST_ENV, moto_server

from services.feature_server.errors import StoreUnavailableError
from services.feature_server.stores import (
    MISSING,
    OnlineStoreReader,
    Partial,
    SqliteReader,
    ViewQuery,
    open_reader,
)
from services.feature_server.timestamps import EPOCH

pytestmark = pytest.mark.integration

T = TypeVar("T")
MISSING_DRIVERS = [5, 1999, 424242]
TIMEOUT = 2.0
OUTAGE_TIMEOUT = 0.3
FAST = OUTAGE_TIMEOUT + 0.7
"""The longest a failing call may take: the store timeout plus scheduling slack."""
_fresh_ids = itertools.count(500_000)  # one entity per test that writes, unique per process


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("sqlite") / "feature_repo", "local")


@pytest.fixture(scope="module")
def redis_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, ManagedProcess]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with pytest.MonkeyPatch.context() as monkeypatch, redis_process() as redis:
        redis.wait_port()
        monkeypatch.setenv("SLIPWAY_REDIS_URL", f"127.0.0.1:{redis.port}")
        yield build_world(tmp_path_factory.mktemp("redis") / "feature_repo", "redis"), redis


@pytest.fixture(scope="session")
def cluster_kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterKit]:
    """One 3-master Redis Cluster for the session (starting one takes a few seconds)."""
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as kit:
        yield kit


@pytest.fixture(scope="module")
def redis_cluster_world(
    cluster_kit: RedisClusterKit, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, RedisClusterKit]]:
    cluster_kit.flush()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SLIPWAY_REDIS_CLUSTER_URL", cluster_kit.connection_string)
        world = build_world(
            tmp_path_factory.mktemp("redis-cluster") / "feature_repo", "redis_cluster"
        )
        assert open_reader(world.repo.config, timeout=TIMEOUT).kind == "redis_cluster"
        assert all(keys > 0 for keys in cluster_kit.keys_per_node().values()), "keys on every node"
        yield world, cluster_kit


@pytest.fixture(scope="module")
def dynamodb_world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[World, PausableProxy]]:
    import boto3

    with pytest.MonkeyPatch.context() as monkeypatch, moto_server() as endpoint:
        port = int(endpoint.rsplit(":", 1)[1])
        proxy = PausableProxy(port)
        try:
            for key, value in {**AWS_TEST_ENV, "FEAST_S3_ENDPOINT_URL": endpoint}.items():
                monkeypatch.setenv(key, value)
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
                Bucket="slipway-registry"
            )
            monkeypatch.setenv("SLIPWAY_AWS_REGION", "us-east-1")
            monkeypatch.setenv("SLIPWAY_REGISTRY_S3_URI", "s3://slipway-registry/feast/registry.db")
            monkeypatch.setenv("SLIPWAY_DYNAMODB_ENDPOINT", proxy.url)
            yield build_world(tmp_path_factory.mktemp("dynamodb") / "feature_repo", "aws"), proxy
        finally:
            proxy.close()


@pytest.fixture(params=["sqlite", "sqlite-cached", "redis", "redis-cluster", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    name = request.param
    if name == "redis":
        world, redis = request.getfixturevalue("redis_world")
        parts = redis_parts(world, redis)
    elif name == "redis-cluster":
        world, cluster = request.getfixturevalue("redis_cluster_world")
        parts = redis_cluster_parts(world, cluster)
    elif name == "dynamodb":
        world, proxy = request.getfixturevalue("dynamodb_world")
        parts = dynamodb_parts(world, proxy)
    else:
        world = request.getfixturevalue("sqlite_world")
        parts = sqlite_parts(world, 20_000 if name == "sqlite-cached" else 0, tmp_path)
    loop = asyncio.new_event_loop()
    harness = Store(name=name, world=world, reader=parts["new_reader"](TIMEOUT), loop=loop, **parts)
    try:
        yield harness
    finally:
        harness.run(harness.reader.close())
        loop.close()


def expect(
    store: Store, view: str, values: Sequence[Any], features: Sequence[str] | None = None
) -> tuple[list[Any], list[Any]]:
    """Our picked rows and Feast's for one view, after checking ``Partial`` marks the gaps."""
    q = query(store.world, view, values, features)
    (ours,) = store.read(q)
    for picked in ours:
        if picked is not None:
            assert isinstance(picked, Partial) is any(v is MISSING for v in picked)
    return ours, oracle(store.world, view, values, q.features)


def write_driver(store: Store, driver: int, *, value: float, stamp: pd.Timestamp) -> None:
    store.world.feast.write_to_online_store(
        "driver_hourly_stats", driver_frame([driver], stamp=stamp, conv_rate=[value])
    )


def poll(call: Callable[[], T], *, until: Callable[[T], bool], within: float) -> T:
    deadline = time.monotonic() + within
    while True:
        result = call()
        if until(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def attempt(store: Store, reader: OnlineStoreReader, q: ViewQuery) -> tuple[str, float]:
    """Read once: ``ok`` or ``unavailable``, and how long it took."""
    started = time.monotonic()
    try:
        store.run(reader.read([q]))
    except StoreUnavailableError:
        return "unavailable", time.monotonic() - started
    return "ok", time.monotonic() - started


# --- The contract -------------------------------------------------------------------------


def test_an_absent_store_is_unavailable_quickly(store: Store) -> None:
    reader = store.unreachable()
    try:
        q = query(store.world, "driver_hourly_stats", DRIVERS[:2])
        for _ in range(2):  # and again: no state left behind by the failure
            outcome, seconds = attempt(store, reader, q)
            assert outcome == "unavailable"
            assert seconds < FAST
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as caught:
            store.run(reader.ping())
        assert time.monotonic() - started < FAST
        assert str(caught.value).startswith(f"{reader.kind}: ")  # no library text
    finally:
        store.run(reader.close())


def test_an_outage_is_unavailable_quickly_then_reads_recover(store: Store) -> None:
    reader = store.new_reader(OUTAGE_TIMEOUT)
    q = query(store.world, "driver_hourly_stats", [*DRIVERS, *MISSING_DRIVERS])
    try:
        before = picks(store.run(reader.read([q])), [q])
        with store.outage():
            outcome, _ = poll(
                lambda: attempt(store, reader, q), until=lambda r: r[0] != "ok", within=3.0
            )
            assert outcome == "unavailable"
            for _ in range(3):
                outcome, seconds = attempt(store, reader, q)
                assert (outcome, seconds < FAST) == ("unavailable", True)
            with pytest.raises(StoreUnavailableError):
                store.run(reader.ping())
        outcome, _ = poll(lambda: attempt(store, reader, q), until=lambda r: r[0] == "ok", within=5)
        assert outcome == "ok"
        store.run(reader.ping())
        assert picks(store.run(reader.read([q])), [q]) == before  # same data, no stale reply
    finally:
        store.run(reader.close())


def test_present_rows_are_feasts_rows(store: Store) -> None:
    for view, values in (
        ("driver_hourly_stats", DRIVERS),
        ("customer_profile", CUSTOMERS),
        ("city_stats", CITIES),
    ):
        ours, feasts = expect(store, view, values)
        assert ours == feasts, view
        assert all(type(row) is tuple for row in ours), view  # whole rows, nothing missing


def test_missing_keys_are_what_feast_finds(store: Store) -> None:
    features = ("conv_rate", "avg_daily_trips")
    ours, feasts = expect(store, "driver_hourly_stats", MISSING_DRIVERS, features)
    assert ours == feasts
    if store.missing_is_row:  # Redis: found, with nulls and the epoch
        assert ours == [(None, None, EPOCH)] * len(MISSING_DRIVERS)
    else:
        assert ours == [None] * len(MISSING_DRIVERS)


def test_a_row_missing_a_feature(store: Store) -> None:
    driver = next(_fresh_ids)
    write_driver(store, driver, value=0.5, stamp=STAMP)
    (key,) = query(store.world, "driver_hourly_stats", [driver]).keys
    store.drop_feature("driver_hourly_stats", key, "rating")
    ours, feasts = expect(store, "driver_hourly_stats", [driver, 1001])
    assert ours == feasts
    rating = DRIVER_FEATURES.index("rating")
    assert ours[0] is not None
    if store.missing_is_row:  # Redis: the field is gone, the hash is not: a null
        assert type(ours[0]) is tuple
        assert ours[0][rating] is None
    else:  # SQLite: the feature's row is gone: NOT_FOUND for that cell only
        assert isinstance(ours[0], Partial)
        assert ours[0][rating] is MISSING
    assert ours[0][0] == 0.5
    assert type(ours[1]) is tuple


def test_repeated_keys_repeat_their_rows(store: Store) -> None:
    values = [1001, 5, 1001, 1002, 5, 1001]
    ours, feasts = expect(store, "driver_hourly_stats", values)
    assert ours == feasts
    assert ours[0] == ours[2] == ours[5]
    assert ours[1] == ours[4]
    assert ours[0] != ours[3]


def test_several_views_in_one_read(store: Store) -> None:
    world = store.world
    asked = [
        ("driver_hourly_stats", [1003, 5, 1001], ("rating", "conv_rate")),
        ("customer_profile", [201, 7, 202], None),
        ("city_stats", ["ber", "nowhere"], None),
        ("driver_hourly_stats_fresh", [1001], None),
    ]
    queries = [query(world, view, values, features) for view, values, features in asked]
    ours = store.read(*queries)
    for (view, values, _), q, rows in zip(asked, queries, ours, strict=True):
        assert rows == oracle(world, view, values, q.features), view


def test_timestamps_and_special_values(store: Store) -> None:
    ours, feasts = expect(store, "driver_hourly_stats", SPECIAL)
    assert ours == feasts
    stamp = "2026-10-31T22:30:00.250Z" if store.keeps_fractions else "2026-10-31T22:30:00Z"
    assert [row[-1] for row in ours] == [stamp, stamp]  # type: ignore[index]
    first, second = ours
    assert first is not None
    assert second is not None
    assert first[DRIVER_FEATURES.index("acc_rate")] == "Infinity"
    assert first[DRIVER_FEATURES.index("rating")] == "-Infinity"
    assert first[DRIVER_FEATURES.index("avg_daily_trips")] is None
    assert second[DRIVER_FEATURES.index("acc_rate")] is None
    assert second[DRIVER_FEATURES.index("avg_daily_trips")] == 3
    materialized, _ = expect(store, "driver_hourly_stats", [1001])
    assert materialized[0] is not None
    assert materialized[0][-1].endswith(":00Z")  # hourly data, whole seconds in every store


def test_entity_key_types_int64_and_string(store: Store) -> None:
    ours, feasts = expect(store, "city_stats", [*CITIES, "1001", "AMS"])
    assert ours == feasts
    assert all(row is not None and row[-1] != EPOCH for row in ours[: len(CITIES)])
    demand, label = (
        store.world.snapshot.views["city_stats"].features.index(f) for f in ("demand", "label")
    )
    assert [row[demand] for row in ours[:2]] == [1.5, 2.25]  # type: ignore[index]
    assert ours[2] is not None
    assert ours[2][label] is None  # the null of the non-ASCII key
    int_ours, int_feasts = expect(store, "driver_hourly_stats", [1001, 2**40, -1])
    assert int_ours == int_feasts
    assert int_ours[0] is not None
    assert int_ours[0][-1] != EPOCH
    spelled = ours[len(CITIES)]  # "1001": a string that spells a stored integer key
    if store.missing_is_row:
        assert spelled == (None, None, None, EPOCH)
    else:
        assert spelled is None


def test_many_keys_are_read_in_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """More keys than SQLite's bound-variable limit (32,766 in stock builds; lowered to 300
    here, so the test can fail) are read in batches; Redis takes them in one pipeline."""
    values = [DRIVERS[i % len(DRIVERS)] if i % 3 else 100_000 + i for i in range(1000)]
    features = ("conv_rate", "online_hours")
    feasts: list[Any] = []
    for start in range(0, len(values), 200):  # before the limit is lowered
        feasts += oracle(store.world, "driver_hourly_stats", values[start : start + 200], features)
    statements: list[str] = []
    connect = sqlite3.connect

    def low_limit(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 300)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", low_limit)
    reader = store.new_reader(TIMEOUT)
    q = query(store.world, "driver_hourly_stats", values, features)
    try:
        assert picks(store.run(reader.read([q])), [q]) == [feasts]
    finally:
        store.run(reader.close())
    if isinstance(reader, SqliteReader):
        selects = [s for s in statements if s.startswith("SELECT entity_key")]
        assert len(selects) >= 4  # 1000 keys (667 distinct missing or not) in batches of 300


def test_reads_see_every_write(store: Store) -> None:
    """The same reader (with its row cache, if any) sees each commit Feast makes."""
    driver = next(_fresh_ids)
    (before,), _ = expect(store, "driver_hourly_stats", [driver], ("conv_rate",))
    assert before == ((None, EPOCH) if store.missing_is_row else None)
    for value, stamp in ((0.25, STAMP), (0.75, STAMP + pd.Timedelta(hours=1))):
        write_driver(store, driver, value=value, stamp=stamp)
        ours, feasts = expect(store, "driver_hourly_stats", [driver], ("conv_rate",))
        assert ours == feasts
        assert ours[0] is not None
        assert ours[0][0] == value
        kept = stamp if store.keeps_fractions else stamp.floor("s")
        assert ours[0][-1] == feast_time(kept.to_pydatetime())


def test_close_then_read_again(store: Store) -> None:
    q = query(store.world, "customer_profile", CUSTOMERS[:3])
    first = store.read(q)
    store.run(store.reader.close())
    store.run(store.reader.close())  # twice is harmless
    assert store.read(q) == first
    store.run(store.reader.ping())
