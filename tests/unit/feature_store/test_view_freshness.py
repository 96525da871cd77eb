"""Feature view freshness: the newest online value's age against the TTL (no Feast needed)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feature_store.errors import FeastOperationError
from feature_store.freshness import ViewInfo, freshness_of, sqlite_newest

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_store_timestamps_win_over_materialization_and_age_is_against_ttl() -> None:
    views = [
        ViewInfo("driver_stats", ttl_seconds=3600, materialized_until=NOW - timedelta(days=3)),
        ViewInfo("customer", ttl_seconds=600, materialized_until=NOW - timedelta(minutes=20)),
        ViewInfo("no_ttl", ttl_seconds=0, materialized_until=NOW - timedelta(days=30)),
        ViewInfo("never", ttl_seconds=60),
    ]
    report = freshness_of(views, newest={"driver_stats": NOW - timedelta(minutes=30)}, now=NOW)
    by_name = {v.view: v for v in report.views}
    assert by_name["driver_stats"].source == "store"
    assert by_name["driver_stats"].age_seconds == 1800
    assert not by_name["driver_stats"].stale
    assert by_name["customer"].source == "materialization"
    assert by_name["customer"].stale  # 1200 s > 600 s
    assert by_name["no_ttl"].ttl_seconds is None
    assert not by_name["no_ttl"].stale
    assert by_name["never"].age_seconds is None
    assert not by_name["never"].stale
    assert report.stale == ("customer",)
    assert report.warnings == ("feature view never: no online value and never materialized",)
    doc = report.to_json()
    assert doc["stale"] == ["customer"]
    assert [v["view"] for v in doc["views"]] == ["customer", "driver_stats", "never", "no_ttl"]


def test_age_exactly_at_the_ttl_is_not_stale() -> None:
    view = ViewInfo("v", ttl_seconds=60)
    report = freshness_of([view], newest={"v": NOW - timedelta(seconds=60)}, now=NOW)
    assert not report.views[0].stale
    later = freshness_of([view], newest={"v": NOW - timedelta(seconds=61)}, now=NOW)
    assert later.stale == ("v",)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        freshness_of([], newest={}, now=datetime(2026, 1, 1))


def _table(db: Path, name: str, stamps: list[object]) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(f'CREATE TABLE "{name}" (entity_key BLOB, event_ts timestamp)')
        conn.executemany(f'INSERT INTO "{name}" VALUES (?, ?)', [(b"k", s) for s in stamps])


def test_sqlite_newest_reads_max_event_ts_per_table(tmp_path: Path) -> None:
    db = tmp_path / "online.db"
    _table(db, "slipway_driver_stats", ["2026-12-01 10:00:00", "2026-12-01 11:30:00"])
    _table(db, "slipway_customer", [])
    views = [
        ViewInfo("driver_stats", 3600, table="slipway_driver_stats"),
        ViewInfo("customer", 3600, table="slipway_customer"),
        ViewInfo("missing", 3600, table="slipway_missing"),
        ViewInfo("remote", 3600, table=None),
    ]
    found = sqlite_newest(path=db, views=views)
    assert found == {"driver_stats": datetime(2026, 12, 1, 11, 30, tzinfo=UTC)}
    assert sqlite_newest(path=tmp_path / "absent.db", views=views) == {}


def test_an_unreadable_online_store_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "online.db"
    db.write_bytes(b"this is not a sqlite database at all, not even close" * 20)
    with pytest.raises(FeastOperationError, match="cannot read the online store"):
        sqlite_newest(path=db, views=[ViewInfo("v", 1, table="t")])
