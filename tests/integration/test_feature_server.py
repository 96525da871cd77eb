"""The feature service on the SQLite store, against Feast's own server and SDK as oracles.

What the SQLite reader alone must do (batches past the bound-variable limit, a row cache that
sees every commit, missing keys and features, repeated keys) is pinned reader by reader in
``tests/contract/test_online_reader_contract.py``.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from feast import FeatureStore, RepoConfig
from feast.feature_server import get_app
from feast.protos.feast.types.Value_pb2 import Value
from kits.feast_oracle import by_name, column_groups, odfv_columns, random_requests, same_value
from kits.feature_repos import DRIVER_FEATURES, copy_repo, driver_frame
from kits.feature_repos import load_repo as load_demo
from kits.feature_servers import error_detail, service_process

from feature_store.demo_data import DemoSizes
from feature_store.repo import FeatureRepo
from services.feature_server import ServerSettings, create_app
from services.feature_server.auth import hash_key

pytestmark = pytest.mark.integration

SIZES = DemoSizes(drivers=8, customers=12, days=2, trips=50)
DRIVERS = list(range(1001, 1009))
CUSTOMERS = list(range(201, 213))
SPECIAL = [9001, 9002]  # written directly: +-inf and nulls
MISSING_DRIVERS = [5, 1999, 424242]
MISSING_CUSTOMERS = [7, 9999]


def make_repo(target: Path) -> FeatureRepo:
    return copy_repo(target, sizes=SIZES, seed=11)


def load_repo(repo: FeatureRepo) -> None:
    """Apply and materialize, then write two drivers with infinities and nulls."""
    load_demo(repo)
    special = driver_frame(
        SPECIAL,
        stamp=pd.Timestamp("2026-10-31T22:30:00.250", tz="UTC"),
        conv_rate=[0.25, 0.5],
        acc_rate=[math.inf, None],
        avg_daily_trips=[None, 3],
        rating=[-math.inf, 4.0],
        cancel_rate=[0.0, 0.1],
        online_hours=[1, None],
    )
    repo.open_store().write_to_online_store("driver_hourly_stats", special)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    feature_repo = make_repo(tmp_path_factory.mktemp("server") / "feature_repo")
    load_repo(feature_repo)
    return feature_repo


@pytest.fixture(scope="module")
def client(repo: FeatureRepo) -> Iterator[TestClient]:
    app = create_app(ServerSettings(feature_repo=repo.path, max_entities=50))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def store(repo: FeatureRepo) -> FeatureStore:
    return repo.open_store()


@pytest.fixture(scope="module")
def feast_client(store: FeatureStore) -> Iterator[TestClient]:
    with TestClient(get_app(store, 0), raise_server_exceptions=False) as test_client:
        yield test_client


def assert_same_as_feast(
    ours: dict[str, Any], feast: dict[str, Any], *, groups: dict[str, str], odfvs: set[str]
) -> None:
    """Same columns (Feast drops python ODFV outputs under full names), values, statuses,
    timestamps; same order up to the order of features within one view."""
    mine, theirs = by_name(ours), by_name(feast)
    assert set(theirs) <= set(mine)
    assert set(mine) - set(theirs) <= odfvs
    for name, result in theirs.items():
        assert mine[name] == result, name
    our_names = [n for n in ours["metadata"]["feature_names"] if n in theirs]
    feast_names = feast["metadata"]["feature_names"]
    assert [groups.get(n, "") for n in our_names] == [groups.get(n, "") for n in feast_names]
    joins = [n for n in feast_names if n not in groups]
    assert our_names[: len(joins)] == joins


def test_differential_against_feast_server_and_sdk(
    client: TestClient, feast_client: TestClient, store: FeatureStore
) -> None:
    snapshot = client.app.state.slipway.watcher.snapshot  # type: ignore[attr-defined]
    bodies = random_requests(
        snapshot,
        seed=20261101,
        count=150,
        keys={
            "driver_id": DRIVERS + SPECIAL + MISSING_DRIVERS,
            "customer_id": CUSTOMERS + MISSING_CUSTOMERS,
        },
        request_values={"trip_distance_km": lambda rng: round(rng.uniform(0.5, 40.0), 3)},
    )
    odfvs = odfv_columns(snapshot)
    statuses: set[str] = set()
    byte_identical = 0
    for body in bodies:
        ours, theirs = client.post("/get-online-features", json=body), None
        theirs = feast_client.post("/get-online-features", json=body)
        assert ours.status_code == 200, (body, ours.text)
        assert theirs.status_code == 200, (body, theirs.text)
        groups = column_groups(snapshot, body)
        assert_same_as_feast(ours.json(), theirs.json(), groups=groups, odfvs=odfvs)
        if ours.json()["metadata"] == theirs.json()["metadata"]:
            assert ours.content == theirs.content  # same order: byte for byte
            byte_identical += 1
        features: Any = body.get("features")
        if body.get("feature_service"):
            features = store.get_feature_service(body["feature_service"])
        sdk = store.get_online_features(
            features=features,
            entity_rows=body["entities"],
            full_feature_names=body["full_feature_names"],
        ).to_dict()
        mine = by_name(ours.json())
        for name, values in sdk.items():
            assert len(values) == len(mine[name]["values"])
            for a, b in zip(mine[name]["values"], values, strict=True):
                assert same_value(a, b), (name, a, b)
        statuses |= {s for r in ours.json()["results"] for s in r["statuses"]}
    assert statuses == {"PRESENT", "NOT_FOUND"}
    assert byte_identical >= 10


def test_rows_missing_features_and_repeated_keys_match_feast(
    repo: FeatureRepo, client: TestClient, feast_client: TestClient, store: FeatureStore
) -> None:
    """A stored entity that lacks a feature (a row deleted, or a feature added later) reports
    that one cell NOT_FOUND; repeated entity keys repeat their cells. Feast is the oracle."""
    stamp = pd.Timestamp("2026-10-31T23:45:00", tz="UTC")
    store.write_to_online_store(
        "driver_hourly_stats",
        driver_frame([9300], stamp=stamp, avg_daily_trips=[6], online_hours=[3]),
    )
    database = next((repo.path / "data").glob("online_store*.db"))
    with sqlite3.connect(database) as conn:
        deleted = conn.execute(
            "DELETE FROM slipway_driver_hourly_stats WHERE feature_name = 'rating' AND "
            "entity_key IN (SELECT entity_key FROM slipway_driver_hourly_stats "
            "WHERE feature_name = 'online_hours' AND value = ?)",
            (Value(int64_val=3).SerializeToString(),),
        ).rowcount
    assert deleted >= 1
    body = {
        "features": [f"driver_hourly_stats:{f}" for f in DRIVER_FEATURES],
        "entities": {"driver_id": [9300, 1001, 9300, 5, 1001, 5]},
    }
    for _ in range(2):  # cold, then from the row cache
        ours = by_name(client.post("/get-online-features", json=body).json())
        assert ours == by_name(feast_client.post("/get-online-features", json=body).json())
    assert ours["rating"]["statuses"] == ["NOT_FOUND", "PRESENT", "NOT_FOUND"] * 2
    assert ours["rating"]["values"][0] is None
    assert ours["online_hours"]["values"][:3] == [3, ours["online_hours"]["values"][1], 3]
    assert ours["online_hours"]["statuses"][:3] == ["PRESENT"] * 3


def test_special_values_and_timestamps(client: TestClient, feast_client: TestClient) -> None:
    body = {
        "features": [f"driver_hourly_stats:{f}" for f in DRIVER_FEATURES],
        "entities": {"driver_id": [9001, 9002, 5]},
    }
    ours = by_name(client.post("/get-online-features", json=body).json())
    assert ours["acc_rate"]["values"] == ["Infinity", None, None]
    assert ours["acc_rate"]["statuses"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
    assert ours["rating"]["values"] == ["-Infinity", 4.0, None]
    assert ours["avg_daily_trips"]["values"] == [None, 3, None]
    # SQLite keeps whole seconds; Feast's server shows them the same way.
    assert ours["conv_rate"]["event_timestamps"] == [
        "2026-10-31T22:30:00Z",
        "2026-10-31T22:30:00Z",
        "1970-01-01T00:00:00Z",
    ]
    assert ours == by_name(feast_client.post("/get-online-features", json=body).json())


def test_ttl_does_not_filter_online_reads(client: TestClient) -> None:
    """Feast 0.67 never returns OUTSIDE_MAX_AGE for these reads (the data is days old)."""
    body = {"feature_service": "driver_activity_v1", "entities": {"driver_id": DRIVERS}}
    result = client.post("/get-online-features", json=body).json()
    assert {s for r in result["results"] for s in r["statuses"]} == {"PRESENT"}


def test_feast_on_demand_bugs_are_not_copied(client: TestClient, feast_client: TestClient) -> None:
    """Two Feast 0.67 defects with python on-demand views that this service does not share."""
    rows = {"driver_id": [1001], "trip_distance_km": [2.0]}
    # 1. Full names: Feast's server silently drops the on-demand outputs.
    full = {"features": SCORE, "entities": rows, "full_feature_names": True}
    assert by_name(feast_client.post("/get-online-features", json=full).json()).keys() == {
        "driver_id"
    }
    ours = by_name(client.post("/get-online-features", json=full).json())
    assert ours["trip_context__pickup_score"]["statuses"] == ["PRESENT"]
    assert isinstance(ours["trip_context__pickup_score"]["values"][0], float)
    # 2. Short names plus a same-named feature of another view: Feast's UDF input loses it (500).
    mixed = {"features": [*SCORE, "driver_hourly_stats_fresh:conv_rate"], "entities": rows}
    assert feast_client.post("/get-online-features", json=mixed).status_code == 500
    got = by_name(client.post("/get-online-features", json=mixed).json())
    assert got["pickup_score"]["values"] == ours["trip_context__pickup_score"]["values"]
    assert got["conv_rate"]["statuses"] == ["PRESENT"]


def test_on_demand_view_uses_request_values(client: TestClient) -> None:
    body = {
        "features": ["trip_context:distance_per_daily_trip", "driver_hourly_stats:avg_daily_trips"],
        "entities": {"driver_id": [1001, 5], "trip_distance_km": [10.0, 3]},
    }
    got = by_name(client.post("/get-online-features", json=body).json())
    trips = got["avg_daily_trips"]["values"][0]
    assert got["distance_per_daily_trip"]["values"] == [10.0 / (1.0 + trips), None]
    assert got["distance_per_daily_trip"]["statuses"] == ["PRESENT", "PRESENT"]


CONV = ["driver_hourly_stats:conv_rate"]
SCORE = ["trip_context:pickup_score"]
ERRORS = [
    ({"features": CONV, "entities": {"driver_id": ["x1001"]}}, 422, "'driver_id' row 0"),
    ({"features": CONV, "entities": {"driver_id": [1001.5]}}, 422, "'driver_id'"),
    ({"features": CONV, "entities": {"driver_id": [1, True]}}, 422, "row 1"),
    ({"features": CONV, "entities": {"driver_id": [None]}}, 422, "got null"),
    ({"features": CONV, "entities": {"driver_id": [2**70]}}, 422, "outside the INT64 range"),
    ({"features": CONV, "entities": {"foo": [1]}}, 422, "'driver_id'"),
    ({"features": CONV, "entities": {"customer_id": [1]}}, 422, "'driver_id'"),
    ({"features": ["driver_hourly_stats:nope"], "entities": {"driver_id": [1]}}, 404, "'nope'"),
    ({"features": ["nope:x"], "entities": {"driver_id": [1]}}, 404, "feature view 'nope'"),
    ({"feature_service": "nope", "entities": {"driver_id": [1]}}, 404, "service 'nope'"),
    ({"features": SCORE, "entities": {"driver_id": [1]}}, 422, "'trip_distance_km'"),
    (
        {"features": SCORE, "entities": {"driver_id": [1], "trip_distance_km": ["far"]}},
        422,
        "'trip_distance_km' row 0",
    ),
    ({"features": CONV, "entities": {"driver_id": [1, 2], "customer_id": [1]}}, 422, "length"),
    ({"features": CONV, "entities": {"driver_id": list(range(51))}}, 413, "limit of 50"),
    (
        {
            "features": [*CONV, "driver_hourly_stats_fresh:conv_rate"],
            "entities": {"driver_id": [1]},
        },
        422,
        "conv_rate",
    ),
    ({"features": CONV[0], "entities": {"driver_id": [1]}}, 422, "'features'"),
]


@pytest.mark.parametrize(("body", "status", "fragment"), ERRORS)
def test_bad_requests_name_the_culprit(
    client: TestClient, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = client.post("/get-online-features", json=body, headers={"x-request-id": "req-42"})
    assert response.status_code == status, response.text
    error = error_detail(response)
    assert fragment in error["message"]
    assert error["request_id"] == "req-42" == response.headers["x-request-id"]
    assert error["code"]


def test_body_limits(client: TestClient) -> None:
    huge = b'{"entities": {"driver_id": [' + b"1," * 600_000 + b"1]}}"
    response = client.post("/get-online-features", content=huge)
    assert response.status_code == 413
    assert "exceeds the limit" in error_detail(response)["message"]
    response = client.post("/get-online-features", content=b"{nope")
    assert response.status_code == 400


def test_internal_errors_leak_nothing(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    state = client.app.state.slipway  # type: ignore[attr-defined]
    odfv = state.watcher.snapshot.odfvs["trip_context"].view

    def boom(_: Any) -> Any:
        raise RuntimeError("secret-internal-detail /etc/passwd")

    monkeypatch.setattr(odfv.feature_transformation, "udf", boom)
    body = {
        "features": ["trip_context:pickup_score"],
        "entities": {"driver_id": [1001], "trip_distance_km": [1.0]},
    }
    response = client.post("/get-online-features", json=body)
    assert response.status_code == 500
    assert "secret" not in response.text
    assert error_detail(response)["request_id"] == response.headers["x-request-id"]

    async def broken_probe(views: Any) -> None:
        raise RuntimeError("secret-ping-detail")

    monkeypatch.setattr(state.reader, "probe", broken_probe)
    state.readiness = None
    response = client.get("/readyz")
    assert response.status_code == 500
    assert "secret" not in response.text


def test_service_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["auth"] == "disabled"
    assert ready.json()["online_store"] == {"type": "sqlite", "ok": True, "error": None}
    services = {s["name"]: s for s in client.get("/v1/feature-services").json()["feature_services"]}
    ranking = services["driver_ranking_v1"]
    assert len(ranking["features"]) == 13
    assert ranking["entities"] == ["driver_id", "customer_id"]
    assert ranking["request_fields"] == ["trip_distance_km"]
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/get-online-features"]["post"]
    assert (
        "entities" in operation["requestBody"]["content"]["application/json"]["schema"]["required"]
    )
    assert {"200", "401", "403", "404", "413", "422", "503"} <= set(operation["responses"])


def test_metrics(client: TestClient) -> None:
    body = {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001]}}
    client.post("/get-online-features", json=body)
    client.post("/get-online-features", json={"feature_service": "nope", "entities": {"x": [1]}})
    client.get("/healthz")
    text = client.get("/metrics").text
    assert (
        'slipway_feature_server_requests_total{feature_service="driver_activity_v1",'
        'route="/get-online-features",status="200"}' in text
    )
    assert "slipway_feature_server_request_seconds_bucket" in text
    assert 'slipway_feature_server_store_read_seconds_count{store="sqlite"}' in text
    assert 'slipway_feature_server_errors_total{type="unknown_service"}' in text
    assert 'route="/healthz",status="200"' in text


def test_api_keys(repo: FeatureRepo, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        yaml.safe_dump(
            {
                "keys": [
                    {
                        "name": "ranker",
                        "sha256": hash_key("k-rank"),
                        "feature_services": ["driver_ranking_v1"],
                    },
                    {"name": "ops", "sha256": hash_key("k-ops"), "feature_services": ["*"]},
                ]
            }
        )
    )
    app = create_app(ServerSettings(feature_repo=repo.path, api_keys_file=keys))
    ranking = {
        "feature_service": "driver_ranking_v1",
        "entities": {"driver_id": [1001], "customer_id": [201], "trip_distance_km": [2.0]},
    }
    activity = {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001]}}
    raw = {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}
    with TestClient(app) as c:
        url = "/get-online-features"
        assert c.post(url, json=ranking).status_code == 401
        assert c.post(url, json=ranking).headers["www-authenticate"] == "Bearer"
        assert c.post(url, json=ranking, headers={"x-api-key": "wrong"}).status_code == 401
        rank = {"authorization": "Bearer k-rank"}
        assert c.post(url, json=ranking, headers=rank).status_code == 200
        assert c.post(url, json=activity, headers=rank).status_code == 403
        assert c.post(url, json=raw, headers=rank).status_code == 403
        assert c.post(url, json=raw, headers={"x-api-key": "k-ops"}).status_code == 200
        listed = c.get("/v1/feature-services", headers=rank).json()["feature_services"]
        assert [s["name"] for s in listed] == ["driver_ranking_v1"]
        assert c.get("/v1/feature-services").status_code == 401
        assert c.get("/readyz").json()["auth"] == "enabled"
        assert "securitySchemes" in c.get("/openapi.json").json()["components"]
    assert "k-rank" not in caplog.text
    assert "k-ops" not in caplog.text


def test_two_workers_count_every_request_in_metrics(repo: FeatureRepo, tmp_path: Path) -> None:
    """With several workers, /metrics on any worker adds up every worker's requests, including
    the last ones of a worker that has gone idle (tallies are flushed by a timer)."""
    body = {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}
    sent = 120
    with service_process(repo=repo.path, workers=2, log=tmp_path / "server.log") as server:
        server.wait_http("/readyz", timeout=120)
        for _ in range(sent):
            with httpx.Client(base_url=server.url) as fresh:  # a new connection each time
                assert fresh.post("/get-online-features", json=body).status_code == 200
        time.sleep(2.5)
        text = httpx.get(f"{server.url}/metrics").text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("slipway_feature_server_requests_total{")
        and 'route="/get-online-features"' in line
        and 'status="200"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) == sent


def test_readiness_and_recovery(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "feature_repo")
    settings = ServerSettings(feature_repo=repo.path, registry_refresh_seconds=0.2)
    body = {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001]}}
    with TestClient(create_app(settings)) as c:
        not_ready = c.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["registry"]["loaded"] is False
        response = c.post("/get-online-features", json=body)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        load_repo(repo)
        _wait_for(lambda: c.get("/readyz").status_code == 200)
        assert c.post("/get-online-features", json=body).json()["results"][1]["statuses"] == [
            "PRESENT"
        ]
        database = repo.data_dir / "online_store.db"
        database.rename(database.with_suffix(".moved"))
        _wait_for(lambda: c.post("/get-online-features", json=body).status_code == 503)
        # /readyz probes the store at most once a second
        _wait_for(lambda: c.get("/readyz").json()["online_store"]["ok"] is False, timeout=3)
        database.with_suffix(".moved").rename(database)
        _wait_for(lambda: c.post("/get-online-features", json=body).status_code == 200)


def _wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.mark.timeout(180)
def test_feast_remote_online_store_client(
    repo: FeatureRepo, store: FeatureStore, tmp_path: Path
) -> None:
    """Feast's own HTTP client (online_store type 'remote') works unchanged against the service."""
    with service_process(repo=repo.path, log=tmp_path / "server.log") as server:
        server.wait_http("/readyz")
        client_store = FeatureStore(
            config=RepoConfig(
                project="slipway",
                registry=str(repo.data_dir / "registry.db"),
                provider="local",
                online_store={"type": "remote", "path": server.url},
                offline_store={"type": "file"},
                entity_key_serialization_version=3,
            )
        )
        rows = [
            {"driver_id": 1001, "customer_id": 201, "trip_distance_km": 5.0},
            {"driver_id": 5, "customer_id": 9999, "trip_distance_km": 1.5},
        ]
        for features in (
            ["driver_hourly_stats:conv_rate", "customer_profile:customer_segment"],
            client_store.get_feature_service("driver_ranking_v1"),
        ):
            remote = client_store.get_online_features(features=features, entity_rows=rows)
            local = store.get_online_features(features=features, entity_rows=rows)
            assert remote.to_dict() == local.to_dict()
