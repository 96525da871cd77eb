"""Bounded load test: 30 s, 32 keep-alive connections against the service under uvicorn.

The driver is Python (asyncio + httpx) so it runs anywhere the tests run; it measures
correctness under concurrency (zero errors), not peak speed (see ``benchmarks/feature_serving.py``).
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from kits.feature_servers import Sample, drive_load, service_process

from feature_store.demo_data import DemoSizes, write_demo_data
from feature_store.materialization import materialize
from feature_store.registry_sync import apply
from feature_store.repo import FeatureRepo

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 11, 1, tzinfo=UTC)
DURATION = 30.0
CONNECTIONS = 32


def _bodies() -> list[dict[str, object]]:
    drivers = list(range(1001, 1021))
    return [
        {
            "features": [
                "driver_hourly_stats:conv_rate",
                "driver_hourly_stats:acc_rate",
                "driver_hourly_stats:avg_daily_trips",
            ],
            "entities": {"driver_id": [1001]},
        },
        {
            "feature_service": "driver_ranking_v1",
            "entities": {"driver_id": [1003], "customer_id": [205], "trip_distance_km": [7.5]},
        },
        {
            "feature_service": "driver_activity_v1",
            "entities": {"driver_id": [*drivers, 5, 6]},
            "full_feature_names": True,
        },
        {
            "features": ["customer_profile:customer_segment", "driver_hourly_stats:rating"],
            "entities": {"driver_id": drivers[:10], "customer_id": list(range(201, 211))},
        },
    ]


@pytest.mark.timeout(240)
def test_thirty_seconds_at_32_connections_without_errors(tmp_path: Path) -> None:
    target = tmp_path / "feature_repo"
    shutil.copytree(
        ROOT / "feature_repo", target, ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    write_demo_data(
        out_dir=target / "data",
        sizes=DemoSizes(drivers=20, customers=20, days=2, trips=40),
        seed=9,
        end=END,
    )
    repo = FeatureRepo(path=target)
    apply(repo=repo)
    materialize(repo=repo, start=END - timedelta(days=3), end=END, validate=False)
    samples: list[Sample] = []

    async def run(url: str) -> None:
        stop = asyncio.Event()
        load = asyncio.create_task(
            drive_load(url, _bodies(), connections=CONNECTIONS, stop=stop, samples=samples)
        )
        await asyncio.sleep(DURATION)
        stop.set()
        await load

    with service_process(repo=target, log=tmp_path / "server.log") as server:
        server.wait_http("/readyz")
        asyncio.run(run(server.url))
        metrics = httpx.get(f"{server.url}/metrics").text

    statuses = {s.status for s in samples}
    assert statuses == {200}, f"errors under load: {sorted(statuses)}"
    assert len(samples) > 30 * DURATION, f"only {len(samples)} requests in {DURATION:.0f}s"
    latencies = sorted(s.seconds for s in samples)
    p99 = latencies[int(len(latencies) * 0.99)]
    print(f"\n{len(samples)} requests, {len(samples) / DURATION:.0f} req/s, p99 {p99 * 1e3:.1f} ms")
    assert 'status="500"' not in metrics
