"""``slipway_feature_view_freshness_seconds`` on ``/metrics``: real SQLite store, real pushes.

The gauge is the age of the newest online value of each view (SQLite: ``MAX(event_ts)``), next to
``slipway_feature_view_ttl_seconds``; a fresher write shows within one refresh period.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from kits.feature_repos import demo_repo, driver_frame

from feature_store.demo_data import DemoSizes
from services.feature_server import ServerSettings, create_app
from services.feature_server.timestamps import epoch_seconds

pytestmark = pytest.mark.integration

SIZES = DemoSizes(drivers=4, customers=4, days=2, trips=20)
GAUGE = 'slipway_feature_view_freshness_seconds{source="store",view="driver_hourly_stats"}'


def gauge(text: str, prefix: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return float(line.rsplit(" ", 1)[1])


def wait_for_gauge(client: TestClient, *, below: float, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    value = float("inf")
    while time.monotonic() < deadline:
        text = client.get("/metrics").text
        if GAUGE in text:
            value = gauge(text, GAUGE)
            if value < below:
                return value
        time.sleep(0.1)
    raise AssertionError(f"freshness gauge still {value} (wanted < {below})")


@pytest.mark.timeout(240)
def test_freshness_gauge_follows_the_newest_online_value(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path / "feature_repo", sizes=SIZES, seed=3)
    with sqlite3.connect(repo.path / "data" / "online_store.db") as conn:
        newest = epoch_seconds(
            conn.execute('SELECT MAX(event_ts) FROM "slipway_driver_hourly_stats"').fetchone()[0]
        )
    settings = ServerSettings(feature_repo=repo.path, freshness_refresh_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        age = wait_for_gauge(client, below=float("inf"))
        assert abs(age - (time.time() - newest)) < 30
        text = client.get("/metrics").text
        ttl = gauge(text, 'slipway_feature_view_ttl_seconds{view="driver_hourly_stats"}')
        fv = repo.open_store().get_feature_view("driver_hourly_stats")
        assert ttl == fv.ttl.total_seconds()
        assert "slipway_feature_view_freshness_seconds{" in text

        stamp = pd.Timestamp.now(tz="UTC").floor("s")
        repo.open_store().write_to_online_store(
            "driver_hourly_stats", driver_frame([1001], stamp=stamp, conv_rate=[0.5])
        )
        assert wait_for_gauge(client, below=10.0) >= 0.0
