"""Bounded load tests: 30 s of concurrent keep-alive connections against the real server process.

The driver is Python (asyncio + httpx) so it runs anywhere the tests run; it measures
correctness under concurrency (zero errors, zero worker restarts), not peak speed (see
``benchmarks/feature_serving.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from kits.feature_repos import demo_repo
from kits.feature_servers import (
    HOST,
    RESTART_LINE,
    WORKER_START,
    ManagedProcess,
    Sample,
    drive_load,
    service_process,
)

from feature_store.demo_data import DemoSizes
from feature_store.repo import FeatureRepo
from foundation.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DURATION = 30.0
CONNECTIONS = 32
STALL = 6.0
"""Longer than uvicorn's 5 s worker health-check timeout."""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    sizes = DemoSizes(drivers=20, customers=20, days=2, trips=40)
    return demo_repo(tmp_path_factory.mktemp("load") / "feature_repo", sizes=sizes, seed=9)


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


def _load(
    url: str,
    *,
    connections: int,
    seconds: float,
    timeout: float = 5.0,
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> list[Sample]:
    """Drive ``seconds`` of load; ``meanwhile`` runs alongside from the start."""
    samples: list[Sample] = []

    async def run() -> None:
        stop = asyncio.Event()
        load = asyncio.create_task(
            drive_load(
                url,
                _bodies(),
                connections=connections,
                stop=stop,
                samples=samples,
                timeout=timeout,
            )
        )
        if meanwhile is not None:
            await meanwhile()
        await asyncio.sleep(seconds - (time.monotonic() - started))
        stop.set()
        await load

    started = time.monotonic()
    asyncio.run(run())
    return samples


def _report(samples: list[Sample]) -> str:
    latencies = sorted(s.seconds for s in samples)
    p99 = latencies[int(len(latencies) * 0.99)]
    return f"{len(samples)} requests, {len(samples) / DURATION:.0f} req/s, p99 {p99 * 1e3:.1f} ms"


@pytest.mark.timeout(240)
def test_thirty_seconds_at_32_connections_without_errors(repo: FeatureRepo, tmp_path: Path) -> None:
    with service_process(repo=repo.path, log=tmp_path / "server.log") as server:
        server.wait_http("/readyz")
        samples = _load(server.url, connections=CONNECTIONS, seconds=DURATION)
        metrics = httpx.get(f"{server.url}/metrics").text

    statuses = {s.status for s in samples}
    assert statuses == {200}, f"errors under load: {sorted(statuses)}"
    assert len(samples) > 30 * DURATION, f"only {len(samples)} requests in {DURATION:.0f}s"
    print(f"\n{_report(samples)}")
    assert 'status="500"' not in metrics


def _worker_starts(log: Path) -> list[str]:
    return re.findall(WORKER_START, log.read_text(errors="replace"))


@pytest.mark.timeout(240)
def test_two_workers_serve_thirty_seconds_of_load_without_a_restart(
    repo: FeatureRepo, tmp_path: Path
) -> None:
    """``slipway features serve --workers 2`` as a real process under 30 s of load, one worker
    stalling for 6 s in the middle (SIGSTOP, as a long pause, swapping or CPU throttling
    would): exactly two worker starts in the log, no line about a worker dying, killed,
    restarted or timed out, and no failed request (the stalled worker's requests finish late).

    uvicorn's own supervisor (the runner before the pre-fork workers) pinged each worker with a
    5 s timeout and killed the ones that did not answer in time."""
    port = free_port()
    log = tmp_path / "server.log"
    args = [sys.executable, "-m", "slipway", "features", "serve", "--repo", str(repo.path)]
    args += ["--host", HOST, "--port", str(port), "--workers", "2"]
    with ManagedProcess(args, port=port, log=log) as server:
        server.wait_http("/readyz", timeout=120)
        deadline = time.monotonic() + 60
        while len(_worker_starts(log)) < 2:  # both workers up before the clock starts
            assert time.monotonic() < deadline, server.tail()
            time.sleep(0.1)
        stalled = int(_worker_starts(log)[0])

        async def stall() -> None:
            await asyncio.sleep(8.0)
            os.kill(stalled, signal.SIGSTOP)
            try:
                await asyncio.sleep(STALL)
            finally:
                with contextlib.suppress(ProcessLookupError):  # killed: the log tells
                    os.kill(stalled, signal.SIGCONT)

        samples = _load(
            server.url, connections=CONNECTIONS, seconds=DURATION, timeout=20.0, meanwhile=stall
        )
        assert server.proc is not None
        assert server.proc.poll() is None, server.tail()
        text = log.read_text(errors="replace")  # before stopping: shutdown lines do not count

    trouble = [line for line in text.splitlines() if re.search(RESTART_LINE, line)]
    starts = len(re.findall(WORKER_START, text))
    failed = sum(s.status != 200 for s in samples)
    assert (starts, trouble, failed) == (2, [], 0), text[-3000:]
    assert len(samples) > 30 * DURATION, f"only {len(samples)} requests in {DURATION:.0f}s"
    assert max(s.seconds for s in samples) > STALL - 1  # the stall did hold requests up
    print(f"\n2 workers, one stalled {STALL:.0f} s: {_report(samples)}")
