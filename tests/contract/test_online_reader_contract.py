"""One contract for every OnlineStoreReader: SQLite (row cache off and on) and Redis.

Each reader reads data Feast itself wrote into its store (``apply``, ``materialize``, then
``write_to_online_store`` for special values and for the rows a test changes), and Feast's own
reader of that store (its online store's ``online_read``) is the oracle: for every key a reader
returns None where Feast finds nothing, else a ``Row`` whose picked values and timestamp are
Feast's, rendered as Feast's server renders them. Where the stores differ (Redis counts a key
without its hash as found with nulls and keeps sub-second timestamps; SQLite keeps whole
seconds), Feast differs the same way, and the tests that pin a difference name it.

Redis is a real ``redis-server`` on a free 127.0.0.1 port, started for the module only when a
Redis case runs (skipped when it is not installed), and stopped after.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sqlite3
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest
from feast import FeatureStore
from feast.infra.online_stores.helpers import _mmh3
from feast.infra.online_stores.sqlite import SqliteOnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.type_map import python_values_to_proto_values
from kits.feature_repos import DRIVER_FEATURES, END, copy_repo, driver_frame, load_repo
from kits.feature_servers import ManagedProcess, redis_process

from feature_store.demo_data import DemoSizes
from feature_store.repo import FeatureRepo
from feature_store.settings import FeatureEnv
from foundation.ports import free_port
from services.feature_server.encoding import decode_value, feast_entity_key
from services.feature_server.errors import StoreUnavailableError
from services.feature_server.registry import Snapshot, build_snapshot
from services.feature_server.stores import (
    MISSING,
    OnlineStoreReader,
    Partial,
    RedisReader,
    Row,
    SqliteReader,
    ViewQuery,
    open_reader,
)
from services.feature_server.timestamps import EPOCH, format_timestamp

pytestmark = pytest.mark.integration

T = TypeVar("T")
SIZES = DemoSizes(drivers=8, customers=12, days=2, trips=40)
DRIVERS = list(range(1001, 1009))
CUSTOMERS = list(range(201, 213))
CITIES = ["ams", "ber", "köln", "são paulo"]
MISSING_DRIVERS = [5, 1999, 424242]
SPECIAL = [9001, 9002]
STAMP = pd.Timestamp("2026-10-31T22:30:00.250", tz="UTC")
TIMEOUT = 2.0
OUTAGE_TIMEOUT = 0.3
FAST = OUTAGE_TIMEOUT + 0.7
"""The longest a failing call may take: the store timeout plus scheduling slack."""
_fresh_ids = itertools.count(500_000)  # one entity per test that writes, unique per process

CITY_DEFINITIONS = '''"""A view keyed by a string entity (added by the reader contract suite)."""

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64, String
from feast.value_type import ValueType

city = Entity(name="city", join_keys=["city_code"], value_type=ValueType.STRING)
city_stats = FeatureView(
    name="city_stats",
    entities=[city],
    ttl=timedelta(days=3650),
    schema=[
        Field(name="city_code", dtype=String),
        Field(name="demand", dtype=Float64),
        Field(name="label", dtype=String),
        Field(name="drivers", dtype=Int64),
    ],
    online=True,
    source=FileSource(
        name="city_stats", path="data/city_stats.parquet", timestamp_field="event_timestamp"
    ),
)
'''


@dataclass(frozen=True)
class World:
    """A repo whose online store Feast filled, Feast's handle on it and our registry snapshot."""

    repo: FeatureRepo
    feast: FeatureStore
    snapshot: Snapshot


def _world(target: Path, env: FeatureEnv) -> World:
    repo = copy_repo(
        target, sizes=SIZES, seed=13, env=env, definitions={"cities.py": CITY_DEFINITIONS}
    )
    stamp = END - pd.Timedelta(hours=1)
    pd.DataFrame(
        {
            "city_code": CITIES,
            "demand": [1.5, 2.25, float("nan"), 4.0],
            "label": ["north", "east", None, "south"],
            "drivers": pd.array([10, None, 30, 40], dtype="Int64"),
            "event_timestamp": [stamp] * len(CITIES),
        }
    ).to_parquet(target / "data" / "city_stats.parquet")
    load_repo(repo)
    feast = repo.open_store()
    special = driver_frame(
        SPECIAL,
        stamp=STAMP,
        conv_rate=[0.25, 0.5],
        acc_rate=[float("inf"), None],
        avg_daily_trips=[None, 3],
        rating=[float("-inf"), 4.0],
        online_hours=[1, None],
    )
    feast.write_to_online_store("driver_hourly_stats", special)
    return World(repo=repo, feast=feast, snapshot=build_snapshot(feast))


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _world(tmp_path_factory.mktemp("sqlite") / "feature_repo", "local")


@pytest.fixture(scope="module")
def redis_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, ManagedProcess]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with pytest.MonkeyPatch.context() as monkeypatch, redis_process() as redis:
        redis.wait_port()
        monkeypatch.setenv("SLIPWAY_REDIS_URL", f"127.0.0.1:{redis.port}")
        yield _world(tmp_path_factory.mktemp("redis") / "feature_repo", "redis"), redis


@dataclass
class Store:
    """One reader under contract, and what the test needs to know or do to its store.

    Attributes:
        name: The implementation's id.
        world: The data Feast wrote.
        reader: A reader opened for the test (``open_reader`` on the repo config).
        missing_is_row: A key the store does not hold comes back as a row of nulls (Redis).
        keeps_fractions: Timestamps keep their sub-second part (Redis; SQLite keeps seconds).
        new_reader: Opens another reader on the same store with the given timeout.
        unreachable: A reader of a store that is not there (no file, nothing on the port).
        outage: Takes the store away for the ``with`` block, then gives it back intact.
        drop_feature: Deletes one stored feature of one entity (view, serialized key, feature).
    """

    name: str
    world: World
    reader: OnlineStoreReader
    missing_is_row: bool
    keeps_fractions: bool
    new_reader: Callable[[float], OnlineStoreReader]
    unreachable: Callable[[], OnlineStoreReader]
    outage: Callable[[], AbstractContextManager[None]]
    drop_feature: Callable[[str, bytes, str], None]
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run on the test's one event loop (Redis connections belong to a loop)."""
        return self.loop.run_until_complete(work)

    def read(self, *queries: ViewQuery) -> list[list[tuple[Any, ...] | None]]:
        """Read twice (cold, then warm: a cache must answer the same) and pick every row."""
        first = picks(self.run(self.reader.read(queries)), queries)
        assert picks(self.run(self.reader.read(queries)), queries) == first
        return first


def picks(found: list[list[Row | None]], queries: Sequence[ViewQuery]) -> list[list[Any]]:
    assert len(found) == len(queries)
    out = []
    for rows, query in zip(found, queries, strict=True):
        assert len(rows) == len(query.keys)
        out.append([None if row is None else row.pick(query.features) for row in rows])
    return out


@contextmanager
def _moved(path: Path) -> Iterator[None]:
    moved = path.with_suffix(".moved")
    path.rename(moved)
    try:
        yield
    finally:
        moved.rename(path)


@contextmanager
def _paused(redis: ManagedProcess) -> Iterator[None]:
    redis.pause()
    try:
        yield
    finally:
        redis.resume()


def _sqlite_store(world: World, cache: int, tmp_path: Path) -> dict[str, Any]:
    config = world.repo.config
    database = Path(SqliteOnlineStore._get_db_path(config))

    def drop(view: str, key: bytes, feature: str) -> None:
        with sqlite3.connect(database) as conn:
            conn.execute(
                f'DELETE FROM "{world.snapshot.views[view].sqlite_table}" '
                "WHERE entity_key = ? AND feature_name = ?",
                (key, feature),
            )

    return {
        "missing_is_row": False,
        "keeps_fractions": False,
        "new_reader": lambda timeout: open_reader(
            config, timeout=timeout, sqlite_cache_entries=cache
        ),
        "unreachable": lambda: SqliteReader(
            path=tmp_path / "absent.db", timeout=OUTAGE_TIMEOUT, cache_entries=cache
        ),
        "outage": lambda: _moved(database),
        "drop_feature": drop,
    }


def _redis_store(world: World, redis: ManagedProcess) -> dict[str, Any]:
    import redis as redis_client

    config = world.repo.config
    project = config.project.encode()

    def drop(view: str, key: bytes, feature: str) -> None:
        with redis_client.Redis(host="127.0.0.1", port=redis.port) as client:
            assert client.hdel(key + project, _mmh3(f"{view}:{feature}")) == 1

    return {
        "missing_is_row": True,
        "keeps_fractions": True,
        "new_reader": lambda timeout: open_reader(config, timeout=timeout),
        "unreachable": lambda: RedisReader(
            connection_string=f"127.0.0.1:{free_port()}",
            project=config.project,
            timeout=OUTAGE_TIMEOUT,
        ),
        "outage": lambda: _paused(redis),
        "drop_feature": drop,
    }


@pytest.fixture(params=["sqlite", "sqlite-cached", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    name = request.param
    if name == "redis":
        world, redis = request.getfixturevalue("redis_world")
        parts = _redis_store(world, redis)
    else:
        world = request.getfixturevalue("sqlite_world")
        parts = _sqlite_store(world, 20_000 if name == "sqlite-cached" else 0, tmp_path)
    loop = asyncio.new_event_loop()
    harness = Store(name=name, world=world, reader=parts["new_reader"](TIMEOUT), loop=loop, **parts)
    try:
        yield harness
    finally:
        harness.run(harness.reader.close())
        loop.close()


# --- Keys, queries and the oracle -----------------------------------------------------------


def entity_key(world: World, view: str, value: Any) -> EntityKeyProto:
    spec = world.snapshot.views[view]
    (join_key,) = spec.join_keys
    proto = python_values_to_proto_values([value], spec.key_types[join_key])[0]
    return EntityKeyProto(join_keys=[join_key], entity_values=[proto])


def query(
    world: World, view: str, values: Sequence[Any], features: Sequence[str] | None = None
) -> ViewQuery:
    """A query for ``values`` of the view's one join key, keys serialized by Feast's function."""
    spec = world.snapshot.views[view]
    (join_key,) = spec.join_keys
    keys = [
        feast_entity_key([join_key], [value], [spec.key_types[join_key]], version=3)
        for value in values
    ]
    return ViewQuery(spec, tuple(features or spec.features), keys)


def feast_time(moment: Any) -> str:
    """A timestamp from Feast's ``online_read`` as Feast's server renders it."""
    if moment is None:
        return EPOCH
    whole = moment.replace(microsecond=0)
    return format_timestamp(int(whole.timestamp()), moment.microsecond * 1000)


def oracle(world: World, view: str, values: Sequence[Any], features: Sequence[str]) -> list[Any]:
    """What Feast's own reader of the store finds, as ``Row.pick`` would give it."""
    found = world.feast._get_provider().online_read(
        config=world.feast.config,
        table=world.feast.get_feature_view(view),
        entity_keys=[entity_key(world, view, v) for v in values],
        requested_features=list(features),
    )
    out: list[Any] = []
    for moment, stored in found:
        if stored is None:
            out.append(None)
            continue
        row = [
            decode_value(stored[f].SerializeToString()) if f in stored else MISSING
            for f in features
        ]
        out.append((*row, feast_time(moment)))
    return out


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
