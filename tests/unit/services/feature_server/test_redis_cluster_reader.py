"""The Redis Cluster reader without a cluster: configuration, and failing fast when none answers.

Reads against a real 3-node cluster: tests/integration/test_feature_server_redis_cluster.py.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from foundation.ports import free_port
from services.errors import ServerConfigError
from services.feature_server.errors import StoreUnavailableError
from services.feature_server.stores import RedisClusterReader, RedisReader, open_reader
from services.feature_server.stores.redis_cluster import parse_cluster_nodes


def config(redis_type: str, connection_string: str) -> SimpleNamespace:
    store = SimpleNamespace(
        type="redis",
        redis_type=SimpleNamespace(value=redis_type),
        connection_string=connection_string,
    )
    return SimpleNamespace(online_store=store, project="slipway")


def test_redis_cluster_config_opens_the_cluster_reader() -> None:
    reader = open_reader(config("redis_cluster", "10.0.0.1:6379,10.0.0.2:7000"), timeout=0.5)
    assert isinstance(reader, RedisClusterReader)
    assert reader.kind == "redis_cluster"
    assert reader.nodes == [("10.0.0.1", 6379), ("10.0.0.2", 7000)]
    assert isinstance(open_reader(config("redis", "10.0.0.1:6379"), timeout=0.5), RedisReader)


def test_other_redis_types_are_refused_by_name() -> None:
    with pytest.raises(ServerConfigError, match=r"'sentinel'.*redis, redis_cluster"):
        open_reader(config("sentinel", "10.0.0.1:6379"), timeout=0.5)


def test_connection_string_parameters() -> None:
    nodes, params = parse_cluster_nodes("a:1,b:2,password=s3cret,ssl=true")
    assert nodes == [("a", 1), ("b", 2)]
    assert params == {"password": "s3cret", "ssl": True}  # Feast's parser turns it into a bool
    with pytest.raises(ServerConfigError, match="db"):
        parse_cluster_nodes("a:1,db=2")  # a cluster has only database 0
    with pytest.raises(ServerConfigError, match="no host:port"):
        parse_cluster_nodes("password=x")


def test_no_cluster_answering_is_unavailable_within_the_timeout() -> None:
    reader = RedisClusterReader(
        connection_string=f"127.0.0.1:{free_port()}", project="slipway", timeout=0.3
    )

    async def attempt() -> None:
        try:
            await reader.ping()
        finally:
            await reader.close()

    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="redis_cluster"):
        asyncio.run(attempt())
    assert time.monotonic() - started < 2.0
