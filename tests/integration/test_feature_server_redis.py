"""The feature service on Feast's Redis store: differential against Feast, and outage recovery.

A real ``redis-server`` (no persistence) is started on a free 127.0.0.1 port; the repo's
``feature_store.redis.yaml`` points at it through ``SLIPWAY_REDIS_URL``. The Redis reader's own
rules (a key without its hash is found with nulls, timeouts, reconnects) are pinned in
``tests/contract/test_online_reader_contract.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from feast.feature_server import get_app
from kits.feast_oracle import by_name, column_groups, odfv_columns, random_requests
from kits.feature_repos import demo_repo, materialize_window
from kits.feature_servers import Sample, drive_load, redis_process, service_process
from kits.servers import redis_server

from feature_store.demo_data import DemoSizes
from feature_store.repo import FeatureRepo
from foundation.ports import free_port
from services.feature_server import ServerSettings, create_app

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("redis-server") is None,
        reason="redis-server is not installed (apt-get install redis-server)",
    ),
]

SIZES = DemoSizes(drivers=6, customers=8, days=2, trips=40)
DRIVERS = list(range(1001, 1007))
CUSTOMERS = list(range(201, 209))


def _redis_repo(target: Path, port: int, monkeypatch: pytest.MonkeyPatch) -> FeatureRepo:
    monkeypatch.setenv("SLIPWAY_REDIS_URL", f"127.0.0.1:{port}")
    return demo_repo(target, sizes=SIZES, seed=5, env="redis")


@pytest.fixture(scope="module")
def redis_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureRepo]:
    with pytest.MonkeyPatch.context() as monkeypatch, redis_server() as port:
        yield _redis_repo(tmp_path_factory.mktemp("redis") / "feature_repo", port, monkeypatch)


@pytest.mark.timeout(240)
def test_redis_differential_against_feast_server(redis_repo: FeatureRepo) -> None:
    app = create_app(ServerSettings(feature_repo=redis_repo.path, feature_env="redis"))
    feast_app = get_app(redis_repo.open_store(), 0)
    with TestClient(app) as ours, TestClient(feast_app) as feast:
        assert ours.get("/readyz").json()["online_store"] == {
            "type": "redis",
            "ok": True,
            "error": None,
        }
        snapshot = app.state.slipway.watcher.snapshot
        bodies = random_requests(
            snapshot,
            seed=7,
            count=80,
            keys={"driver_id": [*DRIVERS, 5, 77777], "customer_id": [*CUSTOMERS, 3]},
            request_values={"trip_distance_km": lambda rng: round(rng.uniform(1, 30), 2)},
        )
        for body in bodies:
            mine, theirs = ours.post("/get-online-features", json=body), None
            theirs = feast.post("/get-online-features", json=body)
            assert mine.status_code == theirs.status_code == 200, (body, mine.text, theirs.text)
            a, b = by_name(mine.json()), by_name(theirs.json())
            assert set(a) - set(b) <= odfv_columns(snapshot)
            for name, result in b.items():
                assert a[name] == result, (name, body)
            groups = column_groups(snapshot, body)
            names = [n for n in mine.json()["metadata"]["feature_names"] if n in b]
            feast_names = theirs.json()["metadata"]["feature_names"]
            assert [groups.get(n, "") for n in names] == [groups.get(n, "") for n in feast_names]


def _window(samples: list[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.started < end]


@pytest.mark.timeout(300)
def test_redis_outage_gives_fast_503s_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    with redis_process(port) as first:
        first.wait_port()
        repo = _redis_repo(tmp_path / "feature_repo", port, monkeypatch)
    # the first redis is gone now; start the one the scenario will stop and restart
    redis = redis_process(port).start()
    redis.wait_port()
    server = service_process(
        repo=repo.path,
        env_name="redis",
        extra_env={"SLIPWAY_SERVER_STORE_TIMEOUT_SECONDS": "0.3"},
        log=tmp_path / "server.log",
    )
    bodies = [
        {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}},
        {
            "feature_service": "driver_ranking_v1",
            "entities": {"driver_id": [1002], "customer_id": [201], "trip_distance_km": [3.0]},
        },
    ]
    marks: dict[str, float] = {}
    samples: list[Sample] = []
    ready: dict[str, int] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        load = asyncio.create_task(
            drive_load(server.url, bodies, connections=8, stop=stop, samples=samples)
        )
        async with httpx.AsyncClient(base_url=server.url) as probe:
            await asyncio.sleep(2.0)
            marks["outage"] = time.monotonic()
            await asyncio.to_thread(redis.stop)
            marks["down"] = time.monotonic()  # the process has exited (a loaded CI box: >0.5 s)
            await asyncio.sleep(3.0)
            ready["during"] = (await probe.get("/readyz")).status_code
            marks["restart"] = time.monotonic()
            await asyncio.to_thread(redis.start)
            await asyncio.to_thread(redis.wait_port)
            await asyncio.to_thread(materialize_window, repo)
            marks["recovered"] = time.monotonic()
            await asyncio.sleep(2.0)
            ready["after"] = (await probe.get("/readyz")).status_code
        stop.set()
        await load

    try:
        with server:
            server.wait_http("/readyz")
            asyncio.run(scenario())
            final = httpx.post(f"{server.url}/get-online-features", json=bodies[0]).json()
    finally:
        redis.stop()

    assert {s.status for s in samples} <= {200, 503}, "only 200s and 503s, never 500s or hangs"
    # done before Redis stopped (one still in flight when it stops may get its 503)
    before = [s for s in samples if s.started + s.seconds < marks["outage"]]
    assert before
    assert {s.status for s in before} == {200}
    # sent once redis-server had exited, answered before it was started again (a request that
    # was still in flight at the restart may already be served by the new process)
    outage = [
        s
        for s in _window(samples, max(marks["outage"] + 0.5, marks["down"]), marks["restart"])
        if s.started + s.seconds < marks["restart"]
    ]
    assert outage
    assert {s.status for s in outage} == {503}, [
        (round(s.started - marks["down"], 3), round(s.seconds, 3), s.status, s.body)
        for s in outage
        if s.status != 503
    ]
    assert max(s.seconds for s in outage) < 1.0, "503s must come fast (store timeout 0.3 s)"
    after = _window(samples, marks["recovered"], float("inf"))
    assert after
    assert {s.status for s in after} == {200}
    assert ready == {"during": 503, "after": 200}
    assert by_name(final)["conv_rate"]["values"][0] is not None
