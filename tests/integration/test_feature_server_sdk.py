"""Feast's own Python SDK (``online_store: type: remote``) against ``feast serve`` and ours.

Two identical copies of the demo repo are served, one by ``feast serve`` and one by Slipway's
service; one SDK client points at each. Every route the SDK or a Feast client calls is driven
on both and the results compared: reads (``/get-online-features``), the SDK's writes
(``write_to_online_store`` and ``push``, which post ``/write-to-online-store``), ``/push`` with
every push mode, ``/materialize``, ``/materialize-incremental`` and ``/health``; and every
error class of the read path.

Where Feast answers a client error with a 4xx (unknown view, missing request data), the SDK
raises the same ``feast.errors`` class from both servers, ours carrying our message. Where
Feast answers with a 500, its SDK retries and raises ``requests``' ``RetryError``; ours
answers 4xx and the SDK raises Feast's class for the fault (``FeatureNameCollisionError``) or
``RuntimeError`` holding our message. Those differences are listed in docs/feature-server.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import requests
from feast import FeatureStore, RepoConfig
from feast.data_source import PushMode
from feast.errors import (
    FeatureNameCollisionError,
    FeatureServiceNotFoundException,
    FeatureViewNotFoundException,
    RequestDataNotFoundInEntityRowsException,
)
from kits.feature_repos import END, demo_repo, driver_frame
from kits.feature_servers import ManagedProcess, error_detail, feast_process, service_process

from feature_store.demo_data import DemoSizes

pytestmark = pytest.mark.integration

SIZES = DemoSizes(drivers=8, customers=12, days=2, trips=40)
DRIVERS = list(range(1001, 1009))
CONV = "driver_hourly_stats:conv_rate"


@dataclass
class Side:
    """One server (ours or Feast's), its repo and an SDK client pointed at it."""

    name: str
    repo: Path
    server: ManagedProcess
    sdk: FeatureStore


def _client(repo: Path, url: str) -> FeatureStore:
    return FeatureStore(
        config=RepoConfig(
            project="slipway",
            registry=str(repo / "data" / "registry.db"),
            provider="local",
            online_store={"type": "remote", "path": url},
            offline_store={"type": "file"},
            entity_key_serialization_version=3,
        ),
        repo_path=str(repo),
    )


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Side]]:
    base = tmp_path_factory.mktemp("sdk")
    demo_repo(base / "ours", sizes=SIZES, seed=21)
    shutil.copytree(base / "ours", base / "feast")
    ours = service_process(repo=base / "ours", log=base / "ours.log")
    feast = feast_process(repo=base / "feast", extra_args=["-r", "1"], log=base / "feast.log")
    with ours, feast:
        ours.wait_http("/readyz", timeout=120)
        feast.wait_http("/health", timeout=120)
        yield {
            "ours": Side("ours", base / "ours", ours, _client(base / "ours", ours.url)),
            "feast": Side("feast", base / "feast", feast, _client(base / "feast", feast.url)),
        }


def both(sides: dict[str, Side], call: Any) -> tuple[Any, Any]:
    """``call(side)`` on our side and Feast's: each result, or the exception raised."""
    out = []
    for name in ("ours", "feast"):
        try:
            out.append(call(sides[name]))
        except Exception as exc:  # noqa: BLE001 - the exception is the result compared
            out.append(exc)
    return out[0], out[1]


def read(side: Side, features: Any, rows: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    if isinstance(features, str):
        features = side.sdk.get_feature_service(features)
    result: dict[str, Any] = side.sdk.get_online_features(
        features=features, entity_rows=rows, **kw
    ).to_dict()
    return result


READS = [
    ([CONV, "driver_hourly_stats:avg_daily_trips"], [{"driver_id": d} for d in [*DRIVERS, 5]]),
    (["customer_profile:customer_segment", CONV], [{"driver_id": 1001, "customer_id": 201}]),
    ("driver_ranking_v1", [{"driver_id": 1002, "customer_id": 203, "trip_distance_km": 4.5}]),
    ([CONV], [{"driver_id": "1003", "request_id": "r-1", "label": 1}]),  # coerced, extras ignored
    ([CONV], [{"driver_id": 1004.0}]),
]


@pytest.mark.timeout(300)
def test_reads_through_the_sdk_are_feasts(sides: dict[str, Side]) -> None:
    for features, rows in READS:
        ours, feasts = both(sides, lambda s, f=features, r=rows: read(s, f, r))
        assert not isinstance(feasts, Exception), feasts
        assert ours == feasts, (features, rows)
    ours, feasts = both(
        sides, lambda s: read(s, [CONV], [{"driver_id": 1001}], full_feature_names=True)
    )
    assert ours == feasts
    assert "driver_hourly_stats__conv_rate" in ours


FEAST_4XX = [  # Feast answers 4xx: the SDK raises the same class from both servers
    (["nope:x"], [{"driver_id": 1}], FeatureViewNotFoundException, "feature view 'nope'"),
    (
        ["trip_context:pickup_score"],
        [{"driver_id": 1}],
        RequestDataNotFoundInEntityRowsException,
        "'trip_distance_km'",
    ),
]
FEAST_500 = [  # Feast answers 500: its SDK retries and raises RetryError; ours answers 4xx
    (
        [CONV, "driver_hourly_stats_fresh:conv_rate"],
        [{"driver_id": 1}],
        FeatureNameCollisionError,
        "requested twice: conv_rate",
    ),
    (["driver_hourly_stats:nope"], [{"driver_id": 1}], RuntimeError, "feature 'nope' not found"),
    ([CONV], [{"customer_id": 1}], RuntimeError, "missing entity column 'driver_id'"),
    ([CONV], [{"driver_id": "abc"}], RuntimeError, "got the string 'abc'"),
    ([CONV], [{"driver_id": 2**70}], RuntimeError, "outside the INT64 range"),
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("features", "rows", "error", "message"), FEAST_4XX + FEAST_500)
def test_every_error_class_through_the_sdk(
    sides: dict[str, Side], features: list[str], rows: Any, error: type[Exception], message: str
) -> None:
    ours, feasts = both(sides, lambda s: read(s, features, rows))
    assert type(ours) is error, ours
    assert message in str(ours)
    if (features, rows, error, message) in FEAST_4XX:
        assert type(feasts) is error, feasts
    else:
        assert isinstance(feasts, requests.exceptions.RetryError), feasts


def test_unknown_feature_service_is_the_same_class(sides: dict[str, Side]) -> None:
    ours, feasts = both(sides, lambda s: read(s, "nope", [{"driver_id": 1}]))
    assert type(ours) is type(feasts) is FeatureServiceNotFoundException


@pytest.mark.timeout(300)
def test_sdk_writes_and_pushes_land_the_same(sides: dict[str, Side]) -> None:
    stamp = pd.Timestamp(END) - pd.Timedelta(minutes=5)
    frame = driver_frame([9101, 9102], stamp=stamp, conv_rate=[0.25, 0.75], rating=[4.0, 4.5])
    assert both(sides, lambda s: s.sdk.write_to_online_store("driver_hourly_stats", frame)) == (
        None,
        None,
    )
    pushed = driver_frame([9103], stamp=stamp, conv_rate=[0.5], rating=[3.0])
    assert both(sides, lambda s: s.sdk.push("driver_stats_push", pushed, to=PushMode.ONLINE)) == (
        None,
        None,
    )
    rows = [{"driver_id": d} for d in (9101, 9102, 9103)]
    features = [CONV, "driver_hourly_stats_fresh:conv_rate", "driver_hourly_stats:online_hours"]
    ours, feasts = both(sides, lambda s: read(s, features, rows, full_feature_names=True))
    assert ours == feasts
    assert ours["driver_hourly_stats__conv_rate"][:2] == pytest.approx([0.25, 0.75])
    assert ours["driver_hourly_stats_fresh__conv_rate"][2] == pytest.approx(0.5)


def _http_push(side: Side, driver: int, to: str) -> int:
    stamp = (END - timedelta(minutes=1)).isoformat()  # tz-aware: Feast #3307
    df = driver_frame([driver], stamp=pd.Timestamp(stamp), rating=[4.0])
    columns = {c: df[c].tolist() for c in df.columns}
    columns["event_timestamp"] = columns["created"] = [stamp]
    body = {"push_source_name": "driver_stats_push", "df": columns, "to": to}
    return httpx.post(f"{side.server.url}/push", json=body, timeout=30).status_code


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("to", "driver"), [("online", 9201), ("online_and_offline", 9202)])
def test_push_route_in_every_mode(sides: dict[str, Side], to: str, driver: int) -> None:
    assert both(sides, lambda s: _http_push(s, driver, to)) == (200, 200)
    rows = [{"driver_id": driver}]
    ours, feasts = both(sides, lambda s: read(s, ["driver_hourly_stats_fresh:conv_rate"], rows))
    assert ours == feasts
    assert ours["conv_rate"] == [0.5]


def test_push_to_offline_only_reaches_the_offline_store(sides: dict[str, Side]) -> None:
    before = {
        n: (s.repo / "data" / "driver_hourly_stats.parquet").stat().st_size
        for n, s in sides.items()
    }
    assert both(sides, lambda s: _http_push(s, 9203, "offline")) == (200, 200)
    for name, side in sides.items():
        assert (side.repo / "data" / "driver_hourly_stats.parquet").stat().st_size != before[name]
    ours, feasts = both(
        sides, lambda s: read(s, ["driver_hourly_stats_fresh:conv_rate"], [{"driver_id": 9203}])
    )
    assert ours == feasts == {"driver_id": [9203], "conv_rate": [None]}


@pytest.mark.timeout(300)
def test_materialize_routes(sides: dict[str, Side]) -> None:
    body = {
        "start_ts": (END - timedelta(days=2)).isoformat(),
        "end_ts": END.isoformat(),
        "feature_views": ["customer_profile"],
    }

    def post(side: Side, route: str, payload: dict[str, Any]) -> tuple[int, str]:
        response = httpx.post(f"{side.server.url}{route}", json=payload, timeout=120)
        return response.status_code, response.text

    assert both(sides, lambda s: post(s, "/materialize", body)) == ((200, "null"), (200, "null"))
    incremental = {"end_ts": END.isoformat(), "feature_views": ["customer_profile"]}
    ours, feasts = both(sides, lambda s: post(s, "/materialize-incremental", incremental))
    assert ours == feasts == (200, "null")
    rows = [{"customer_id": c} for c in (201, 202, 999)]
    ours, feasts = both(sides, lambda s: read(s, ["customer_profile:current_balance"], rows))
    assert ours == feasts
    status, text = post(sides["ours"], "/materialize", {**body, "feature_views": ["nope"]})
    assert status == 404
    assert "nope" in text


def test_health_route(sides: dict[str, Side]) -> None:
    assert both(sides, lambda s: httpx.get(f"{s.server.url}/health").status_code) == (200, 200)


def test_sdk_materialize_through_the_remote_store(sides: dict[str, Side]) -> None:
    """``FeatureStore.materialize`` with a remote online store posts /write-to-online-store."""
    assert both(
        sides,
        lambda s: s.sdk.materialize(END - timedelta(hours=6), END, ["driver_hourly_stats"]),
    ) == (None, None)
    rows = [{"driver_id": d} for d in DRIVERS]
    ours, feasts = both(sides, lambda s: read(s, [CONV, "driver_hourly_stats:rating"], rows))
    assert ours == feasts


def test_a_bad_row_is_refused_through_the_sdk_with_our_message(sides: dict[str, Side]) -> None:
    stamp = pd.Timestamp(END) - pd.Timedelta(minutes=3)
    frame = driver_frame([9301, 9302], stamp=stamp, rating=[4.0, 9.5])
    ours = sides["ours"]
    with pytest.raises(RuntimeError) as caught:
        ours.sdk.write_to_online_store("driver_hourly_stats", frame)
    assert "nothing written" in str(caught.value)
    assert "rating" in str(caught.value)
    got = read(ours, [CONV], [{"driver_id": 9301}])
    assert got["conv_rate"] == [None]
    response = httpx.post(
        f"{ours.server.url}/write-to-online-store",
        json={"feature_view_name": "driver_hourly_stats", "df": {"driver_id": [1]}},
    )
    assert response.status_code == 422
    assert error_detail(response)["code"] == "expectations_failed"
