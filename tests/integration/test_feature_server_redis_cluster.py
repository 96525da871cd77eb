"""The feature service on a real 3-node Redis Cluster (``redis_type: redis_cluster``).

* Differential: every answer equals Feast's own server reading the same cluster (Feast's
  reader is redis-py's cluster client), after a materialization into the cluster.
* Redirections: a slot moved to another node after the service learned the slot map
  (``MOVED``) and a slot in the middle of a migration (``ASK``) are still read right.
* A node restarted mid-load: while it is down only requests with a key on it get 503 (fast),
  the others keep getting 200; once it is back every request is 200 again, no restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from feast.feature_server import get_app
from kits.feast_oracle import by_name, odfv_columns, random_requests
from kits.feature_repos import demo_repo
from kits.feature_servers import Sample, drive_load, service_process
from kits.redis_cluster import RedisClusterKit, redis_cluster

from feature_store.demo_data import DemoSizes
from feature_store.repo import FeatureRepo
from foundation.ports import LOOPBACK
from services.feature_server import ServerSettings, create_app

pytestmark = [pytest.mark.integration]

SIZES = DemoSizes(drivers=12, customers=8, days=2, trips=40)
DRIVERS = list(range(1001, 1013))
CUSTOMERS = list(range(201, 209))
ENV = "redis_cluster"


@pytest.fixture
def cluster_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RedisClusterKit, FeatureRepo]]:
    with redis_cluster(tmp_path / "cluster") as kit:
        monkeypatch.setenv("SLIPWAY_REDIS_CLUSTER_URL", kit.connection_string)
        yield kit, demo_repo(tmp_path / "feature_repo", sizes=SIZES, seed=5, env=ENV)


def redis_key(driver_id: int) -> bytes:
    """Feast's Redis key of a driver in the demo project."""
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    key = EntityKey(join_keys=["driver_id"], entity_values=[Value(int64_val=driver_id)])
    return bytes(_redis_key("slipway", key, 3))


def driver_body(*drivers: int) -> dict[str, Any]:
    return {
        "features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
        "entities": {"driver_id": list(drivers)},
    }


def node_ids(kit: RedisClusterKit) -> dict[int, str]:
    return {port: kit.redis_cli(port, "CLUSTER", "MYID").strip() for port in kit.ports}


@pytest.mark.timeout(240)
def test_cluster_answers_as_feast_over_the_same_cluster(
    cluster_repo: tuple[RedisClusterKit, FeatureRepo],
) -> None:
    kit, repo = cluster_repo
    assert len({kit.port_for_key(redis_key(d)) for d in DRIVERS}) == 3, "keys on every node"
    app = create_app(ServerSettings(feature_repo=repo.path, feature_env=ENV))
    with TestClient(app) as ours, TestClient(get_app(repo.open_store(), 0)) as feast:
        assert ours.get("/readyz").json()["online_store"] == {
            "type": "redis_cluster",
            "ok": True,
            "error": None,
        }
        snapshot = app.state.slipway.watcher.snapshot
        bodies = random_requests(
            snapshot,
            seed=11,
            count=60,
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
        everyone = driver_body(*DRIVERS)
        values = by_name(ours.post("/get-online-features", json=everyone).json())
        assert None not in values["conv_rate"]["values"]


def _migrate(kit: RedisClusterKit, key: bytes, *, to: int, finish: bool) -> None:
    """Move ``key``'s slot (with the key) to node ``to``; ``finish=False`` stops mid-way (ASK)."""
    import redis

    source = kit.port_for_key(key)
    ids = node_ids(kit)
    with (
        redis.Redis(host=LOOPBACK, port=source) as src,
        redis.Redis(host=LOOPBACK, port=to) as dst,
    ):
        slot = int(src.execute_command("CLUSTER KEYSLOT", key))
        dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
        src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[to])
        assert int(src.execute_command("CLUSTER COUNTKEYSINSLOT", slot)) == 1  # only ``key``
        src.execute_command("MIGRATE", LOOPBACK, to, "", 0, 5000, "KEYS", key)
        if finish:
            for client in (dst, src):
                client.execute_command("CLUSTER SETSLOT", slot, "NODE", ids[to])


@pytest.mark.timeout(240)
def test_moved_and_ask_redirections_are_followed(
    cluster_repo: tuple[RedisClusterKit, FeatureRepo],
) -> None:
    kit, repo = cluster_repo
    moved = DRIVERS[0]
    first_home = kit.port_for_key(redis_key(moved))
    asked = next(d for d in DRIVERS[1:] if kit.port_for_key(redis_key(d)) != first_home)
    app = create_app(ServerSettings(feature_repo=repo.path, feature_env=ENV))
    with TestClient(app) as ours:
        expected = ours.post("/get-online-features", json=driver_body(*DRIVERS)).json()
        assert None not in by_name(expected)["conv_rate"]["values"]  # the slot map is loaded now

        home = kit.port_for_key(redis_key(moved))
        _migrate(kit, redis_key(moved), to=next(p for p in kit.ports if p != home), finish=True)
        assert kit.port_for_key(redis_key(moved)) != home
        home = kit.port_for_key(redis_key(asked))
        _migrate(kit, redis_key(asked), to=next(p for p in kit.ports if p != home), finish=False)
        assert kit.port_for_key(redis_key(asked)) == home  # still owned there: ASK, not MOVED

        for _ in range(3):  # the MOVED refresh and the ASK are followed on every read
            again = ours.post("/get-online-features", json=driver_body(*DRIVERS))
            assert again.status_code == 200, again.text
            assert again.json()["results"] == expected["results"]


RECOVERY_SECONDS = 2.0
"""How soon after the node is back (``cluster_state:ok``) every request must be served."""


def _timeline(samples: list[Sample], marks: dict[str, float]) -> str:
    """Statuses per body and half second, relative to the node going down (for failures)."""
    zero = marks["down"]
    buckets: dict[tuple[float, int], dict[int, int]] = {}
    for s in samples:
        slot = (round((s.started - zero) * 2) / 2, s.body)
        counts = buckets.setdefault(slot, {})
        counts[s.status] = counts.get(s.status, 0) + 1
    marks_text = {k: round(v - zero, 2) for k, v in marks.items()}
    lines = [f"marks {marks_text}"]
    lines += [f"{t:+.1f}s body {b}: {c}" for (t, b), c in sorted(buckets.items())]
    return "\n".join(lines)


def _window(samples: list[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.started < end]


@pytest.mark.timeout(300)
def test_a_restarted_node_fails_only_its_keys_and_the_service_recovers(
    cluster_repo: tuple[RedisClusterKit, FeatureRepo], tmp_path: Path
) -> None:
    kit, repo = cluster_repo
    node = {d: kit.port_for_key(redis_key(d)) for d in DRIVERS}
    stopped = node[DRIVERS[0]]
    on_it = [d for d in DRIVERS if node[d] == stopped]
    elsewhere = [d for d in DRIVERS if node[d] != stopped]
    assert elsewhere
    bodies = [driver_body(*on_it), driver_body(*elsewhere)]
    server = service_process(
        repo=repo.path,
        env_name=ENV,
        extra_env={"SLIPWAY_SERVER_STORE_TIMEOUT_SECONDS": "0.3"},
        log=tmp_path / "server.log",
    )
    marks: dict[str, float] = {}
    samples: list[Sample] = []
    ready: dict[str, int] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        load = asyncio.create_task(
            drive_load(server.url, bodies, connections=4, stop=stop, samples=samples)
        )
        await asyncio.sleep(1.5)
        marks["down"] = time.monotonic()
        await asyncio.to_thread(kit.stop_node, stopped)
        await asyncio.sleep(2.0)
        async with httpx.AsyncClient(base_url=server.url) as probe:
            ready["during"] = (await probe.get("/readyz")).status_code
        await asyncio.sleep(1.0)
        marks["restart"] = time.monotonic()
        await asyncio.to_thread(kit.start_node, stopped)
        marks["up"] = time.monotonic()
        await asyncio.sleep(4.0)
        stop.set()
        await load

    with server:
        server.wait_http("/readyz")
        expected = httpx.post(f"{server.url}/get-online-features", json=bodies[0]).json()
        asyncio.run(scenario())
        final = httpx.post(f"{server.url}/get-online-features", json=bodies[0])

    timeline = _timeline(samples, marks)
    assert {s.status for s in samples} <= {200, 503}, timeline
    before = [s for s in samples if s.started + s.seconds < marks["down"]]  # done before
    assert before
    assert {s.status for s in before} == {200}
    down = _window(samples, marks["down"] + 0.5, marks["restart"])
    assert down
    assert {s.status for s in down if s.body == 0} == {503}, timeline  # keys on the stopped node
    assert {s.status for s in down if s.body == 1} == {200}, timeline  # keys on the live nodes
    assert max(s.seconds for s in down) < 1.5, timeline  # fast 503s (store timeout 0.3 s)
    after = _window(samples, marks["up"] + RECOVERY_SECONDS, float("inf"))
    assert after
    assert {s.status for s in after} == {200}, timeline  # recovered by itself
    assert final.status_code == 200
    assert ready == {"during": 200}  # two masters of three serve: the pod stays in rotation
    assert final.json()["results"] == expected["results"]
