"""The same feature definitions on the other store configurations, against real servers.

* ``redis``: a real ``redis-server`` on 127.0.0.1 (Debian package).
* ``redis_cluster``: a real 3-node Redis Cluster on 127.0.0.1 (``kits.redis_cluster``).
* ``aws``: DynamoDB online store and S3 registry on a moto server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from kits.redis_cluster import redis_cluster
from kits.servers import AWS_TEST_ENV, moto_server, redis_server

from feature_store.demo_data import DemoSizes, write_demo_data
from feature_store.materialization import materialize
from feature_store.online import read_online
from feature_store.registry_sync import apply
from feature_store.repo import FeatureRepo

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 1, tzinfo=UTC)
SIZES = DemoSizes(drivers=4, customers=6, days=2, trips=50)


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server() as endpoint:
        for key, value in {**AWS_TEST_ENV, "FEAST_S3_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(key, value)
        yield endpoint


def _latest(repo: FeatureRepo) -> pd.DataFrame:
    frame = pd.read_parquet(repo.data_dir / "driver_hourly_stats.parquet")
    return frame.sort_values("event_timestamp").groupby("driver_id").tail(1).set_index("driver_id")


def _roundtrip(repo: FeatureRepo) -> None:
    write_demo_data(out_dir=repo.data_dir, sizes=SIZES, seed=3, end=END)
    assert apply(repo=repo).applied
    assert apply(repo=repo).in_sync  # idempotent on this store too
    materialize(repo=repo, start=END - timedelta(days=3), end=END, now=END)
    latest = _latest(repo)
    rows = read_online(
        repo=repo,
        entities={"driver_id": [*map(int, latest.index), 424242]},
        feature_service="driver_activity_v1",
    )
    for row in rows[:-1]:
        expected = latest.loc[row["driver_id"]]
        assert row["conv_rate"] == pytest.approx(float(expected["conv_rate"]), rel=1e-6)
        assert row["avg_daily_trips"] == int(expected["avg_daily_trips"])
    assert rows[-1]["conv_rate"] is None


def test_redis_online_store(
    feature_repo_copy: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_REDIS_URL", redis_url)
    repo = FeatureRepo(path=feature_repo_copy, env="redis")
    assert repo.config.online_store.type == "redis"
    _roundtrip(repo)


def test_redis_cluster_online_store(
    feature_repo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with redis_cluster(tmp_path / "cluster") as cluster:
        monkeypatch.setenv("SLIPWAY_REDIS_CLUSTER_URL", cluster.connection_string)
        repo = FeatureRepo(path=feature_repo_copy, env="redis_cluster")
        assert repo.config.online_store.redis_type.value == "redis_cluster"
        _roundtrip(repo)
        assert sum(cluster.keys_per_node().values()) > 0


def test_aws_dynamodb_online_store_and_s3_registry(
    feature_repo_copy: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket="slipway-registry"
    )
    monkeypatch.setenv("SLIPWAY_AWS_REGION", "us-east-1")
    monkeypatch.setenv("SLIPWAY_REGISTRY_S3_URI", "s3://slipway-registry/feast/registry.db")
    monkeypatch.setenv("SLIPWAY_DYNAMODB_ENDPOINT", moto_endpoint)
    repo = FeatureRepo(path=feature_repo_copy, env="aws")
    _roundtrip(repo)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    assert s3.head_object(Bucket="slipway-registry", Key="feast/registry.db")["ContentLength"] > 0
    tables = boto3.client(
        "dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1"
    ).list_tables()["TableNames"]
    assert "slipway.driver_hourly_stats" in tables
