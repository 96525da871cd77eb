"""Gated writes: a push or write with one bad row in 100 changes nothing in the online store.

The SQLite database file is compared byte for byte, Redis by its whole dataset (every hash,
every field), before and after the refused batch; the 422 names the row and the expectation.
The same batch with the bad row fixed is written (the control: the store does change).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kits.feast_oracle import by_name
from kits.feature_repos import END, demo_repo
from kits.feature_servers import error_detail
from kits.servers import redis_server

from feature_store.demo_data import DemoSizes
from services.feature_server import ServerSettings, create_app

pytestmark = pytest.mark.integration

SIZES = DemoSizes(drivers=6, customers=6, days=2, trips=30)
BAD_ROW = 37


def batch(first_id: int, *, bad: bool) -> dict[str, list[Any]]:
    """100 rows of driver statistics; row 37 has a rating of 9.5 (the suite allows 1 to 5)."""
    stamp = (END - timedelta(minutes=10)).isoformat()
    rows = range(100)
    rating = [9.5 if bad and r == BAD_ROW else 4.0 for r in rows]
    return {
        "driver_id": [first_id + r for r in rows],
        "conv_rate": [0.5] * 100,
        "acc_rate": [0.75] * 100,
        "avg_daily_trips": [3] * 100,
        "rating": rating,
        "cancel_rate": [0.1] * 100,
        "online_hours": [5] * 100,
        "event_timestamp": [stamp] * 100,
        "created": [stamp] * 100,
    }


@pytest.fixture(params=["sqlite", "redis"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Callable[[], str]]]:
    """A client of the service and a digest of the whole online store."""
    if request.param == "sqlite":
        repo = demo_repo(tmp_path / "feature_repo", sizes=SIZES, seed=41)
        database = repo.data_dir / "online_store.db"
        app = create_app(ServerSettings(feature_repo=repo.path))
        with TestClient(app) as client:
            yield client, lambda: hashlib.sha256(database.read_bytes()).hexdigest()
        return
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    import redis

    with redis_server() as port:
        monkeypatch.setenv("SLIPWAY_REDIS_URL", f"127.0.0.1:{port}")
        repo = demo_repo(tmp_path / "feature_repo", sizes=SIZES, seed=41, env="redis")
        direct = redis.Redis(host="127.0.0.1", port=port)

        def dataset() -> str:
            dump = sorted((k, sorted(direct.hgetall(k).items())) for k in direct.scan_iter())
            return hashlib.sha256(repr(dump).encode()).hexdigest()

        app = create_app(ServerSettings(feature_repo=repo.path, feature_env="redis"))
        with TestClient(app) as client:
            yield client, dataset
        direct.close()


def _read(client: TestClient, ids: list[int], view: str) -> list[Any]:
    body = {"features": [f"{view}:rating"], "entities": {"driver_id": ids}}
    values: list[Any] = by_name(client.post("/get-online-features", json=body).json())["rating"][
        "values"
    ]
    return values


@pytest.mark.parametrize(
    ("route", "target", "view"),
    [
        (
            "/push",
            {"push_source_name": "driver_stats_push", "to": "online"},
            "driver_hourly_stats_fresh",
        ),
        (
            "/write-to-online-store",
            {"feature_view_name": "driver_hourly_stats"},
            "driver_hourly_stats",
        ),
    ],
)
def test_one_bad_row_in_a_hundred_changes_nothing(
    served: tuple[TestClient, Callable[[], str]], route: str, target: dict[str, str], view: str
) -> None:
    client, digest = served
    before = digest()
    response = client.post(route, json={**target, "df": batch(70_000, bad=True)})
    assert response.status_code == 422, response.text
    error = error_detail(response)
    assert error["code"] == "expectations_failed"
    assert f"row {BAD_ROW} (9.5)" in error["message"]
    assert "expect_column_values_to_be_between(rating" in error["message"]
    assert error["failures"] == [
        {
            "source": "driver_hourly_stats",
            "expectation": "expect_column_values_to_be_between",
            "column": "rating",
            "rule": ">= 1 and <= 5",
            "rows": [BAD_ROW],
            "values": [9.5],
            "severity": "critical",
        }
    ]
    assert digest() == before  # byte-identical: nothing was written
    assert _read(client, [70_000, 70_000 + BAD_ROW], view) == [None, None]

    fixed = client.post(route, json={**target, "df": batch(70_000, bad=False)})
    assert fixed.status_code == 200, fixed.text
    assert digest() != before
    assert _read(client, [70_000, 70_000 + BAD_ROW], view) == [4.0, 4.0]


def test_a_write_without_a_suite_is_not_gated(
    served: tuple[TestClient, Callable[[], str]], tmp_path: Path
) -> None:
    """Only sources with a suite are gated: the fresh view's suite is its batch source's."""
    client, _ = served
    app_state: Any = client.app.state.slipway  # type: ignore[attr-defined]
    assert app_state.validators.get("driver_hourly_stats") is not None
    assert app_state.validators.get("no_such_source") is None


def test_gating_is_in_the_reply_shape_feast_clients_expect(
    served: tuple[TestClient, Callable[[], str]],
) -> None:
    client, _ = served
    ok = client.post(
        "/push", json={"push_source_name": "driver_stats_push", "df": batch(71_000, bad=False)}
    )
    assert (ok.status_code, ok.content) == (200, b"")  # Feast's push answers an empty 200
    written = client.post(
        "/write-to-online-store",
        json={"feature_view_name": "driver_hourly_stats", "df": batch(72_000, bad=False)},
    )
    assert (written.status_code, written.json()) == (200, None)  # and its write "null"
    unknown = client.post(
        "/write-to-online-store", json={"feature_view_name": "nope", "df": {"a": [1]}}
    )
    assert unknown.status_code == 404
    assert error_detail(unknown)["class"] == "FeastObjectNotFoundException"
