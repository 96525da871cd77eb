"""One test per fault of issue 13's "Why" (1-8), each named after it; each fails on the code
before the fix (main at 1c2b624) and passes now.

Fault 7 (cold keys are slow) is measured by ``benchmarks/feature_cold_keys.py``; its test here
pins the mechanism that removed the per-cell work (float columns decoded in bulk), not a time.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from feast.errors import FeastError, FeatureViewNotFoundException
from feast.feature_server import get_app
from feast.protos.feast.types.Value_pb2 import Value
from feast.value_type import ValueType
from kits.feast_oracle import by_name
from kits.feature_repos import DRIVER_FEATURES, END, demo_repo
from kits.feature_servers import error_detail, service_process
from kits.online_stores import World, build_world
from kits.servers import AWS_TEST_ENV, moto_server

from feature_store.demo_data import DemoSizes
from feature_store.repo import FeatureRepo
from services.feature_server import ServerSettings, create_app
from services.feature_server.auth import hash_key
from services.feature_server.encoding import feast_entity_key

pytestmark = pytest.mark.integration

SIZES = DemoSizes(drivers=6, customers=6, days=2, trips=30)
CONV = ["driver_hourly_stats:conv_rate"]
URL = "/get-online-features"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    return demo_repo(tmp_path_factory.mktemp("faults") / "feature_repo", sizes=SIZES, seed=31)


@pytest.fixture(scope="module")
def client(repo: FeatureRepo) -> Iterator[TestClient]:
    app = create_app(ServerSettings(feature_repo=repo.path))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The demo repo plus a view keyed by a string (``city_code``)."""
    return build_world(tmp_path_factory.mktemp("world") / "feature_repo", "local")


def wait_for(condition: Callable[[], bool], *, within: float) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- 1 -------------------------------------------------------------------------------------


def test_fault_1_feast_sdk_can_tell_our_errors_apart(client: TestClient) -> None:
    """Feast's SDK maps an error body to its exception class with ``from_error_detail``."""
    response = client.post(URL, json={"features": ["nope:x"], "entities": {"driver_id": [1]}})
    assert response.status_code == 404
    error = FeastError.from_error_detail(response.json())
    assert isinstance(error, FeatureViewNotFoundException)
    assert "feature view 'nope' not found" in str(error)  # our message inside Feast's class


# --- 2 -------------------------------------------------------------------------------------


def test_fault_2_feast_routes_exist(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    stamp = (END - timedelta(minutes=2)).isoformat()
    df = {
        "driver_id": [9901],
        **{f: [0.5] for f in ("conv_rate", "acc_rate", "cancel_rate")},
        "rating": [4.0],
        "avg_daily_trips": [3],
        "online_hours": [2],
        "event_timestamp": [stamp],
        "created": [stamp],
    }
    assert (
        client.post("/push", json={"push_source_name": "driver_stats_push", "df": df}).status_code
        == 200
    )
    write = {"feature_view_name": "driver_hourly_stats", "df": df}
    assert client.post("/write-to-online-store", json=write).status_code == 200
    window = {"start_ts": (END - timedelta(days=1)).isoformat(),
              "end_ts": END.isoformat(), "feature_views": ["customer_profile"]}  # fmt: skip
    assert client.post("/materialize", json=window).status_code == 200
    incremental = {"end_ts": END.isoformat(), "feature_views": ["customer_profile"]}
    assert client.post("/materialize-incremental", json=incremental).status_code == 200
    got = by_name(
        client.post(URL, json={"features": CONV, "entities": {"driver_id": [9901]}}).json()
    )
    assert got["conv_rate"]["values"] == [0.5]


# --- 3 -------------------------------------------------------------------------------------

ACCEPTED = {
    "numeric string key": {"features": CONV, "entities": {"driver_id": ["1001"]}},
    "integral float key": {"features": CONV, "entities": {"driver_id": [1001.0]}},
    "integer for a string key": {
        "features": ["city_stats:demand"],
        "entities": {"city_code": [1, "ams"]},
    },
    "extra entity-row columns": {
        "features": CONV,
        "entities": {"driver_id": [1001], "request_id": ["r-1"], "label": [1]},
    },
    "numeric string request value": {
        "features": ["trip_context:distance_per_daily_trip"],
        "entities": {"driver_id": [1001], "trip_distance_km": ["4.2"]},
    },
    "full_feature_names as a string": {
        "features": CONV,
        "entities": {"driver_id": [1001]},
        "full_feature_names": "true",
    },
}


@pytest.fixture(scope="module")
def world_clients(world: World) -> Iterator[tuple[TestClient, TestClient]]:
    app = create_app(ServerSettings(feature_repo=world.repo.path))
    with (
        TestClient(app, raise_server_exceptions=False) as ours,
        TestClient(get_app(world.feast, 0), raise_server_exceptions=False) as feasts,
    ):
        yield ours, feasts


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_fault_3_requests_feast_answers_are_answered_alike(
    world_clients: tuple[TestClient, TestClient], case: str
) -> None:
    ours, feasts = world_clients
    body = ACCEPTED[case]
    mine, theirs = ours.post(URL, json=body), feasts.post(URL, json=body)
    assert theirs.status_code == 200, theirs.text
    assert mine.status_code == 200, mine.text
    assert by_name(mine.json()) == by_name(theirs.json())


def test_fault_3_nan_and_infinity_literals_are_missing_values(
    world_clients: tuple[TestClient, TestClient],
) -> None:
    ours, _ = world_clients
    body = (
        b'{"features": ["trip_context:distance_per_daily_trip"], '
        b'"entities": {"driver_id": [1001, 1002], "trip_distance_km": [NaN, Infinity]}}'
    )
    response = ours.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert by_name(response.json())["distance_per_daily_trip"]["values"] == [None, None]
    key = b'{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [NaN]}}'
    refused = ours.post(URL, content=key, headers={"content-type": "application/json"})
    assert refused.status_code == 422
    assert "got NaN" in error_detail(refused)["message"]


# --- 4 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated to 0 bytes", "a valid SQLite file without tables"])
def test_fault_4_readiness_reads_the_feature_tables(tmp_path: Path, damage: str) -> None:
    repo = demo_repo(tmp_path / "feature_repo", sizes=SIZES, seed=32)
    database = repo.data_dir / "online_store.db"
    with TestClient(create_app(ServerSettings(feature_repo=repo.path))) as c:
        assert c.get("/readyz").status_code == 200
        if damage.startswith("truncated"):
            database.write_bytes(b"")
        else:
            fresh = tmp_path / "empty.db"
            sqlite3.connect(fresh).execute("CREATE TABLE unrelated (x)").connection.commit()
            os.replace(fresh, database)
        assert wait_for(lambda: c.get("/readyz").status_code == 503, within=3)
        ready = c.get("/readyz").json()
        assert ready["online_store"]["ok"] is False
        assert (
            "feature view" in ready["online_store"]["error"]
            or "sqlite" in ready["online_store"]["error"]
        )


# --- 5 -------------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_fault_5_lock_waits_do_not_block_the_event_loop(repo: FeatureRepo, tmp_path: Path) -> None:
    """With a writer holding the lock, uncached reads wait off the loop: ``/healthz`` sent after
    eight of them is answered before any of them (they wait their 0.5 s busy timeout)."""
    server = service_process(
        repo=repo.path,
        extra_env={
            "SLIPWAY_SERVER_SQLITE_CACHE_ENTRIES": "0",
            "SLIPWAY_SERVER_STORE_TIMEOUT_SECONDS": "0.5",
        },
        log=tmp_path / "server.log",
    )
    order: list[str] = []
    waits: list[float] = []
    ops: dict[str, float] = {}

    async def scenario(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def read(i: int) -> int:
                body = {"features": CONV, "entities": {"driver_id": [1001 + i]}}
                started = time.monotonic()
                status = (await http.post(URL, json=body)).status_code
                waits.append(time.monotonic() - started)
                order.append("read")
                return status

            async def health() -> None:
                await asyncio.sleep(0.05)
                for path in ("/healthz", "/metrics"):
                    started = time.monotonic()
                    assert (await http.get(path)).status_code == 200
                    ops[path] = time.monotonic() - started
                order.append("healthz")

            reads = [asyncio.create_task(read(i)) for i in range(8)]
            await health()
            return list(await asyncio.gather(*reads))

    with server:
        server.wait_http("/readyz")
        lock = sqlite3.connect(repo.data_dir / "online_store.db", isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            statuses = asyncio.run(scenario(server.url))
        finally:
            lock.execute("ROLLBACK")
            lock.close()
    assert statuses == [503] * 8
    assert order[0] == "healthz", order
    assert max(ops.values()) < 0.05, ops  # /healthz and /metrics within 50 ms
    # waited side by side, not one after another (0.5, 1.0, ... 4.0 s before)
    assert max(waits) < 2.0, waits


# --- 6 -------------------------------------------------------------------------------------


def test_fault_6_content_type_is_checked(client: TestClient) -> None:
    body = '{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}'
    for media in ("text/plain", "application/x-www-form-urlencoded"):
        response = client.post(URL, content=body, headers={"content-type": media})
        assert response.status_code == 415, response.text
        assert "not JSON" in error_detail(response)["message"]


def test_fault_6_out_of_range_integers_and_deep_json_get_exact_messages(client: TestClient) -> None:
    response = client.post(URL, json={"features": CONV, "entities": {"driver_id": [2**70]}})
    assert response.status_code == 422
    assert "1180591620717411303424 is outside the INT64 range" in error_detail(response)["message"]
    deep = b'{"features": [], "x": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    response = client.post(URL, content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "nests deeper than 1024 levels" in error_detail(response)["message"]


def test_fault_6_a_renamed_in_database_is_never_served_stale(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path / "feature_repo", sizes=SIZES, seed=33)
    database = repo.data_dir / "online_store.db"
    body = {"features": CONV, "entities": {"driver_id": [1001]}}
    with TestClient(create_app(ServerSettings(feature_repo=repo.path))) as c:
        before = by_name(c.post(URL, json=body).json())["conv_rate"]["values"][0]
        copy = tmp_path / "next.db"
        shutil.copy(database, copy)
        key = feast_entity_key(["driver_id"], [1001], [ValueType.INT64], version=3)
        with sqlite3.connect(copy) as conn:
            changed = conn.execute(
                "UPDATE slipway_driver_hourly_stats SET value = ? "
                "WHERE entity_key = ? AND feature_name = 'conv_rate'",
                (Value(float_val=0.125).SerializeToString(), key),
            ).rowcount
        assert changed == 1
        os.replace(copy, database)
        after = by_name(c.post(URL, json=body).json())["conv_rate"]["values"][0]  # at once
    assert before != 0.125
    assert after == 0.125


def test_key_roles_gate_writes_and_materialization(repo: FeatureRepo, tmp_path: Path) -> None:
    """``read`` keys may only read, ``write`` keys also push and write, ``admin`` keys also
    materialize; a refusal is 403 naming the key and the role it lacks, and writes nothing."""
    keys = tmp_path / "keys.yaml"
    entries = [
        {"name": role, "sha256": hash_key(f"k-{role}"), "feature_services": ["*"], "roles": [role]}
        for role in ("read", "write", "admin")
    ]
    keys.write_text(yaml.safe_dump({"keys": entries}))
    stamp = (END - timedelta(minutes=1)).isoformat()
    df = {
        "driver_id": [9902],
        **{f: [0.25] for f in ("conv_rate", "acc_rate", "cancel_rate")},
        "rating": [4.0],
        "avg_daily_trips": [3],
        "online_hours": [2],
        "event_timestamp": [stamp],
        "created": [stamp],
    }
    calls = {
        "/push": {"push_source_name": "driver_stats_push", "df": df},
        "/write-to-online-store": {"feature_view_name": "driver_hourly_stats", "df": df},
        "/materialize-incremental": {
            "end_ts": END.isoformat(),
            "feature_views": ["customer_profile"],
        },
    }
    app = create_app(ServerSettings(feature_repo=repo.path, api_keys_file=keys))
    with TestClient(app) as c:

        def call(role: str, path: str) -> Any:
            return c.post(path, json=calls[path], headers={"x-api-key": f"k-{role}"})

        read = {"features": CONV, "entities": {"driver_id": [9902]}}
        assert c.post(URL, json=read, headers={"x-api-key": "k-read"}).status_code == 200
        for path in calls:
            refused = call("read", path)
            assert refused.status_code == 403, (path, refused.text)
            assert "API key 'read'" in error_detail(refused)["message"]
        got = c.post(URL, json=read, headers={"x-api-key": "k-read"}).json()
        assert by_name(got)["conv_rate"]["values"] == [None]  # nothing was written
        refused = call("write", "/materialize-incremental")
        assert refused.status_code == 403
        assert "'admin' role" in error_detail(refused)["message"]
        assert call("write", "/push").status_code == 200
        assert call("write", "/write-to-online-store").status_code == 200
        assert call("admin", "/materialize-incremental").status_code == 200
        assert call("admin", "/push").status_code == 200  # admin implies write
        assert c.post(URL, json=calls["/push"]).status_code == 401  # no key at all


def _keys_file(path: Path, names: list[str]) -> None:
    entries = [{"name": n, "sha256": hash_key(f"k-{n}"), "feature_services": ["*"]} for n in names]
    path.write_text(yaml.safe_dump({"keys": entries}))


def test_fault_6_api_keys_are_reloaded_at_once_and_a_bad_file_denies_all(
    repo: FeatureRepo, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.yaml"
    _keys_file(keys, ["a", "b"])
    app = create_app(ServerSettings(feature_repo=repo.path, api_keys_file=keys))
    body = {"features": CONV, "entities": {"driver_id": [1001]}}
    with TestClient(app) as c:

        def status(name: str) -> int:
            return c.post(URL, json=body, headers={"x-api-key": f"k-{name}"}).status_code

        assert (status("a"), status("b")) == (200, 200)
        _keys_file(keys, ["a"])  # b removed
        assert wait_for(lambda: status("b") == 401, within=1.5)
        assert status("a") == 200
        keys.write_text("keys: [")  # malformed: fail closed
        assert wait_for(lambda: status("a") == 401, within=1.5)
        _keys_file(keys, ["a"])
        assert wait_for(lambda: status("a") == 200, within=1.5)
        keys.unlink()  # deleted: fail closed
        assert wait_for(lambda: status("a") == 401, within=1.5)


@pytest.mark.timeout(180)
def test_fault_6_metrics_of_several_workers_are_only_slipways(
    repo: FeatureRepo, tmp_path: Path
) -> None:
    """Feast's metrics module (imported by a materialization) registers its own families in
    the shared multiprocess folder; ``/metrics`` shows Slipway's only."""
    window = {"end_ts": END.isoformat(), "feature_views": ["customer_profile"]}
    with service_process(repo=repo.path, workers=2, log=tmp_path / "server.log") as server:
        server.wait_http("/readyz", timeout=120)
        httpx.post(f"{server.url}{URL}", json={"features": CONV, "entities": {"driver_id": [1]}})
        for _ in range(4):  # reach both workers
            with httpx.Client(base_url=server.url, timeout=120) as fresh:
                assert fresh.post("/materialize-incremental", json=window).status_code == 200
        text = httpx.get(f"{server.url}/metrics").text
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert families
    ours = ("slipway_feature_server_", "slipway_feature_view_")
    assert all(name.startswith(ours) for name in families), families


# --- 7 -------------------------------------------------------------------------------------


def test_fault_7_cold_float_columns_are_decoded_without_per_cell_protobuf_work(
    repo: FeatureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold read of 4 float features x 100 entities parses no float cell through protobuf
    (it did, one ``ValueProto.FromString`` per cell: the bulk of the CPU of a cold read)."""
    from services.feature_server import encoding

    parsed: list[bytes] = []
    real = encoding.ValueProto.FromString

    def counting(raw: bytes) -> Any:
        parsed.append(raw)
        return real(raw)

    monkeypatch.setattr(encoding.ValueProto, "FromString", counting)
    monkeypatch.setattr(encoding, "_decoded", {})
    floats = ["conv_rate", "acc_rate", "rating", "cancel_rate"]
    app = create_app(ServerSettings(feature_repo=repo.path, sqlite_cache_entries=0))
    body = {
        "features": [f"driver_hourly_stats:{f}" for f in floats],
        "entities": {"driver_id": [1001 + i % 6 for i in range(100)]},
    }
    with TestClient(app) as c:
        response = c.post(URL, json=body)
    assert response.status_code == 200
    values = by_name(response.json())["conv_rate"]["values"]
    assert all(isinstance(v, float) and math.isfinite(v) for v in values)
    assert parsed == []
    assert len(DRIVER_FEATURES) == 6


# --- 8 -------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_fault_8_dynamodb_is_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    with moto_server() as endpoint:
        for key, value in {**AWS_TEST_ENV, "FEAST_S3_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(key, value)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="slipway-registry"
        )
        monkeypatch.setenv("SLIPWAY_AWS_REGION", "us-east-1")
        monkeypatch.setenv("SLIPWAY_REGISTRY_S3_URI", "s3://slipway-registry/feast/registry.db")
        monkeypatch.setenv("SLIPWAY_DYNAMODB_ENDPOINT", endpoint)
        repo = demo_repo(tmp_path / "feature_repo", sizes=SIZES, seed=34, env="aws")
        body = {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001, 5]}}
        app = create_app(ServerSettings(feature_repo=repo.path, feature_env="aws"))
        with TestClient(app) as ours, TestClient(get_app(repo.open_store(), 0)) as feasts:
            ready = ours.get("/readyz").json()
            assert ready["online_store"] == {"type": "dynamodb", "ok": True, "error": None}
            mine = ours.post(URL, json=body)
            assert mine.status_code == 200, mine.text
            assert by_name(mine.json()) == by_name(feasts.post(URL, json=body).json())
