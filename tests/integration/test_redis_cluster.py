"""The Redis Cluster online store (``redis_cluster``) through Feast, on a real 3-node cluster.

Feast writes and reads the cluster with ``redis_type: redis_cluster`` (redis-py's cluster
client: hash slots, ``MOVED``/``ASK``). The same data materialized into one Redis node and
into the cluster must be the same keys and fields byte for byte, spread over every node, and
read back the same through the SDK. When one node is stopped, reads of its keys fail in one
line and the same ``FeatureStore`` reads them again once the node is back.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kits.redis_cluster import RedisClusterKit, redis_cluster
from kits.servers import redis_server

from feature_store.demo_data import DemoSizes, write_demo_data
from feature_store.errors import FeastOperationError
from feature_store.materialization import materialize
from feature_store.online import read_online
from feature_store.registry_sync import apply
from feature_store.repo import FeatureRepo
from feature_store.settings import FeatureEnv
from foundation.ports import LOOPBACK

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 11, 1, tzinfo=UTC)
SIZES = DemoSizes(drivers=12, customers=12, days=2, trips=40)
DRIVERS = [1000 + i for i in range(1, SIZES.drivers + 1)]
CUSTOMERS = [200 + i for i in range(1, SIZES.customers + 1)]
DRIVER_FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"]
CUSTOMER_FEATURES = [
    "customer_profile:current_balance",
    "customer_profile:customer_segment",
    "customer_profile:lifetime_trip_count",
]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterKit]:
    with redis_cluster(tmp_path / "cluster") as kit:
        yield kit


def loaded_repo(
    target: Path, env: FeatureEnv, variable: str, url: str, patch: pytest.MonkeyPatch
) -> FeatureRepo:
    """A copy of the repo with the demo data, applied and materialized (gate on) into ``url``."""
    shutil.copytree(
        ROOT / "feature_repo", target, ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    write_demo_data(out_dir=target / "data", sizes=SIZES, seed=5, end=END)
    patch.setenv(variable, url)
    repo = FeatureRepo(path=target, env=env)
    _ = repo.config  # the URL is read now
    apply(repo=repo)
    materialize(repo=repo, start=END - timedelta(days=3), end=END, now=END)
    return repo


def dump(ports: list[int]) -> list[tuple[bytes, list[tuple[bytes, bytes]]]]:
    """Every key held by the servers on ``ports`` with its hash fields, sorted."""
    import redis

    out: list[tuple[bytes, list[tuple[bytes, bytes]]]] = []
    for port in ports:
        with redis.Redis(host=LOOPBACK, port=port) as client:
            out.extend((key, sorted(client.hgetall(key).items())) for key in client.scan_iter())
    return sorted(out)


def reads(repo: FeatureRepo) -> list[list[dict[str, Any]]]:
    """Every driver and customer (and one unknown of each) through the SDK."""
    return [
        read_online(repo=repo, entities={"driver_id": [*DRIVERS, 9999]}, features=DRIVER_FEATURES),
        read_online(
            repo=repo, entities={"customer_id": [*CUSTOMERS, 9999]}, features=CUSTOMER_FEATURES
        ),
    ]


def redis_key(repo: FeatureRepo, driver_id: int) -> bytes:
    """Feast's Redis key of a driver (serialized entity key, then the project)."""
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    key = EntityKey(join_keys=["driver_id"], entity_values=[Value(int64_val=driver_id)])
    return bytes(_redis_key(repo.config.project, key, 3))


def test_cluster_config_names_redis_cluster(
    feature_repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_REDIS_CLUSTER_URL", "10.0.0.1:6379,10.0.0.2:6379")
    store = FeatureRepo(path=feature_repo_copy, env="redis_cluster").config.online_store
    assert (store.type, str(store.redis_type.value)) == ("redis", "redis_cluster")
    assert store.connection_string == "10.0.0.1:6379,10.0.0.2:6379"


def test_cluster_holds_and_serves_what_one_node_does(
    tmp_path: Path, cluster: RedisClusterKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    with redis_server() as single:
        one = loaded_repo(
            tmp_path / "single", "redis", "SLIPWAY_REDIS_URL", f"{LOOPBACK}:{single}", monkeypatch
        )
        many = loaded_repo(
            tmp_path / "cluster_repo",
            "redis_cluster",
            "SLIPWAY_REDIS_CLUSTER_URL",
            cluster.connection_string,
            monkeypatch,
        )
        assert dump(cluster.ports) == dump([single])  # the same keys and fields, byte for byte
        assert reads(many) == reads(one)
    spread = cluster.keys_per_node()
    assert sum(spread.values()) >= len(DRIVERS) + len(CUSTOMERS)
    assert all(count > 0 for count in spread.values()), spread  # hash slots on every node
    drivers = reads(many)[0]
    assert all(row["conv_rate"] is not None for row in drivers[:-1])
    assert drivers[-1]["conv_rate"] is None


def test_a_stopped_node_fails_its_keys_and_the_store_recovers(
    tmp_path: Path, cluster: RedisClusterKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = loaded_repo(
        tmp_path / "repo",
        "redis_cluster",
        "SLIPWAY_REDIS_CLUSTER_URL",
        cluster.connection_string,
        monkeypatch,
    )
    store = repo.open_store()  # one client for the whole test: it must find its way back

    def ask(drivers: list[int]) -> dict[str, list[Any]]:
        rows = [{"driver_id": d} for d in drivers]
        return dict(store.get_online_features(features=DRIVER_FEATURES, entity_rows=rows).to_dict())

    before = ask(DRIVERS)
    node = {d: cluster.port_for_key(redis_key(repo, d)) for d in DRIVERS}
    stopped = node[DRIVERS[0]]
    elsewhere = [d for d in DRIVERS if node[d] != stopped]
    assert elsewhere, "every driver on one node: pick other sizes"
    with cluster.node_down(stopped):
        with pytest.raises(FeastOperationError, match=r"online read failed: .*Error") as caught:
            read_online(repo=repo, entities={"driver_id": [DRIVERS[0]]}, features=DRIVER_FEATURES)
        assert "\n" not in str(caught.value)
        served = read_online(repo=repo, entities={"driver_id": elsewhere}, features=DRIVER_FEATURES)
        by_id = dict(zip(before["driver_id"], before["conv_rate"], strict=True))
        assert [row["conv_rate"] for row in served] == [by_id[d] for d in elsewhere]
    assert ask(DRIVERS) == before  # the node reloaded its data; the same client reads it
