"""The online stores behind the reader contract suite: data Feast wrote, and Feast's reader.

``build_world`` copies the demo repo, adds a view keyed by a string entity, applies,
materializes and writes special rows (infinities, nulls, a sub-second timestamp) through Feast.
``Store`` is one reader under contract plus what differs between the stores; ``oracle`` asks
Feast's own reader of the store (its online store's ``online_read``) for the same keys.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from feast import FeatureStore
from feast.infra.online_stores.helpers import _mmh3
from feast.infra.online_stores.sqlite import SqliteOnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.type_map import python_values_to_proto_values

from feature_store.demo_data import DemoSizes
from feature_store.repo import FeatureRepo
from feature_store.settings import FeatureEnv
from foundation.ports import LOOPBACK, free_port
from services.feature_server.encoding import decode_value, feast_entity_key
from services.feature_server.registry import Snapshot, build_snapshot
from services.feature_server.stores import (
    MISSING,
    DynamoDBReader,
    OnlineStoreReader,
    RedisClusterReader,
    RedisReader,
    Row,
    SqliteReader,
    ViewQuery,
    open_reader,
)
from services.feature_server.timestamps import EPOCH, format_timestamp

from .feature_repos import END, copy_repo, driver_frame, load_repo
from .feature_servers import ManagedProcess
from .redis_cluster import RedisClusterKit

_T = TypeVar("_T")
SIZES = DemoSizes(drivers=8, customers=12, days=2, trips=40)
DRIVERS = list(range(1001, 1009))
CUSTOMERS = list(range(201, 213))
CITIES = ["ams", "ber", "köln", "são paulo"]
SPECIAL = [9001, 9002]
STAMP = pd.Timestamp("2026-10-31T22:30:00.250", tz="UTC")
UNREACHABLE_TIMEOUT = 0.3

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


def build_world(target: Path, env: FeatureEnv) -> World:
    """A repo of ``env`` at ``target`` whose online store Feast filled (see the module doc)."""
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

    def run(self, work: Coroutine[Any, Any, _T]) -> _T:
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


def sqlite_parts(world: World, cache: int, tmp_path: Path) -> dict[str, Any]:
    """``Store`` fields for SQLite (row cache of ``cache`` keys): an outage moves the file."""
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
            path=tmp_path / "absent.db", timeout=UNREACHABLE_TIMEOUT, cache_entries=cache
        ),
        "outage": lambda: _moved(database),
        "drop_feature": drop,
    }


def redis_parts(world: World, redis: ManagedProcess) -> dict[str, Any]:
    """``Store`` fields for Redis: an outage freezes the server (SIGSTOP), data intact."""
    import redis as redis_client

    config = world.repo.config
    project = config.project.encode()

    def drop(view: str, key: bytes, feature: str) -> None:
        with redis_client.Redis(host=LOOPBACK, port=redis.port) as client:
            assert client.hdel(key + project, _mmh3(f"{view}:{feature}")) == 1

    return {
        "missing_is_row": True,
        "keeps_fractions": True,
        "new_reader": lambda timeout: open_reader(config, timeout=timeout),
        "unreachable": lambda: RedisReader(
            connection_string=f"{LOOPBACK}:{free_port()}",
            project=config.project,
            timeout=UNREACHABLE_TIMEOUT,
        ),
        "outage": lambda: _paused(redis),
        "drop_feature": drop,
    }


def redis_cluster_parts(world: World, cluster: RedisClusterKit) -> dict[str, Any]:
    """``Store`` fields for a Redis Cluster: an outage freezes every node, data intact.

    The layout is Redis's (a key without its hash is found with nulls), spread over the nodes.
    """
    import redis as redis_client

    config = world.repo.config
    project = config.project.encode()

    def drop(view: str, key: bytes, feature: str) -> None:
        port = cluster.port_for_key(key + project)
        with redis_client.Redis(host=LOOPBACK, port=port) as client:
            assert client.hdel(key + project, _mmh3(f"{view}:{feature}")) == 1

    return {
        "missing_is_row": True,
        "keeps_fractions": True,
        "new_reader": lambda timeout: open_reader(config, timeout=timeout),
        "unreachable": lambda: RedisClusterReader(
            connection_string=f"{LOOPBACK}:{free_port()}",
            project=config.project,
            timeout=UNREACHABLE_TIMEOUT,
        ),
        "outage": cluster.frozen,
        "drop_feature": drop,
    }


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
    """What Feast's own reader of the store finds, as ``Row.pick`` would give it.

    Feast is asked for each distinct key once (its DynamoDB reader fails on a repeated key:
    ``BatchGetItem`` refuses duplicates) and the answers are repeated in request order.
    """
    distinct = list(dict.fromkeys(values))
    answers = world.feast._get_provider().online_read(
        config=world.feast.config,
        table=world.feast.get_feature_view(view),
        entity_keys=[entity_key(world, view, v) for v in distinct],
        requested_features=list(features),
    )
    by_value = dict(zip(distinct, answers, strict=True))
    found = [by_value[v] for v in values]
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


class PausableProxy:
    """A TCP proxy on 127.0.0.1 in front of a server; ``paused`` holds every byte back.

    moto's threaded server cannot be frozen like a process, so the DynamoDB outage freezes
    this proxy instead: connections stay open and nothing answers, as with a SIGSTOPped store.
    """

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = free_port()
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.create_server((LOOPBACK, self.port))
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection((LOOPBACK, self.target), timeout=5)
            except OSError:
                client.close()
                continue
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.1)
        try:
            while not self._stop.is_set():
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                while self.paused.is_set() and not self._stop.is_set():
                    time.sleep(0.02)
                dst.sendall(data)
        except OSError:
            pass  # one side went away: close both below
        finally:
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    continue

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)


@contextmanager
def _frozen(proxy: PausableProxy) -> Iterator[None]:
    proxy.paused.set()
    try:
        yield
    finally:
        proxy.paused.clear()


def dynamodb_parts(world: World, proxy: PausableProxy) -> dict[str, Any]:
    """``Store`` fields for DynamoDB on moto behind ``proxy``: an outage freezes the proxy."""
    import boto3
    import mmh3

    config = world.repo.config
    online = config.online_store

    def drop(view: str, key: bytes, feature: str) -> None:
        client = boto3.client("dynamodb", endpoint_url=proxy.url, region_name=online.region)
        client.update_item(
            TableName=f"{config.project}.{view}",
            Key={"entity_id": {"S": mmh3.hash_bytes(key).hex()}},  # Feast's compute_entity_id
            UpdateExpression="REMOVE #v.#f",
            ExpressionAttributeNames={"#v": "values", "#f": feature},
        )

    return {
        "missing_is_row": False,
        "keeps_fractions": True,
        "new_reader": lambda timeout: open_reader(config, timeout=timeout),
        "unreachable": lambda: DynamoDBReader(
            region=online.region,
            endpoint_url=f"http://{LOOPBACK}:{free_port()}",
            project=config.project,
            timeout=UNREACHABLE_TIMEOUT,
        ),
        "outage": lambda: _frozen(proxy),
        "drop_feature": drop,
    }
