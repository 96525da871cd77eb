"""Freshness per feature view: the newest online value's age and the TTL, off the request path."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from feast.value_type import ValueType
from prometheus_client import CollectorRegistry, generate_latest

from services.feature_server.encoding import key_prefix
from services.feature_server.errors import StoreUnavailableError
from services.feature_server.freshness import Freshness
from services.feature_server.registry import ViewSpec
from services.feature_server.stores.sqlite import SqliteReader
from services.feature_server.timestamps import epoch_seconds


def view(name: str, *, ttl: float | None = 3600.0, until: float | None = None) -> ViewSpec:
    return ViewSpec(
        name=name,
        join_keys=("driver_id",),
        key_order=("driver_id",),
        key_types={"driver_id": ValueType.INT64},
        prefix=key_prefix(["driver_id"]),
        fast_keys=True,
        features=("a",),
        feature_types={"a": ValueType.FLOAT},
        sqlite_table=f"p_{name}",
        redis_name=name,
        ttl_seconds=ttl,
        unservable=None,
        entityless=False,
        version=0,
        materialized_until=until,
    )


class FakeReader:
    """Answers ``newest_event`` from a dict and counts the calls."""

    def __init__(self, newest: dict[str, float], *, fail: bool = False) -> None:
        self.newest, self.fail, self.calls = newest, fail, 0

    async def newest_event(self, views: Sequence[ViewSpec]) -> dict[str, float]:
        self.calls += 1
        if self.fail:
            raise StoreUnavailableError("sqlite: OperationalError")
        return {v.name: self.newest[v.name] for v in views if v.name in self.newest}


def scrape(freshness: Freshness) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    registry.register(freshness)
    out: dict[tuple[str, str], float] = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("slipway_feature_view_"):
            name_labels, value = line.rsplit(" ", 1)
            out[(name_labels.split("{")[0], name_labels.split("{", 1)[1])] = float(value)
    return out


def test_nothing_is_exported_before_the_first_refresh() -> None:
    assert scrape(Freshness()) == {}


def test_store_first_registry_otherwise_and_views_without_either_left_out() -> None:
    now = time.time()
    freshness = Freshness()
    views = [view("a", until=now - 9999), view("b", until=now - 600, ttl=None), view("c")]
    asyncio.run(freshness.refresh(views, FakeReader({"a": now - 120})))
    got = scrape(freshness)
    age_a = got[("slipway_feature_view_freshness_seconds", 'source="store",view="a"}')]
    age_b = got[("slipway_feature_view_freshness_seconds", 'source="materialization",view="b"}')]
    assert 120 <= age_a < 125  # the store's newest value wins over the registry's window
    assert 600 <= age_b < 605
    assert not [k for k in got if 'view="c"' in k[1] and "freshness" in k[0]]  # nothing known
    assert got[("slipway_feature_view_ttl_seconds", 'view="a"}')] == 3600.0
    assert not [k for k in got if k == ("slipway_feature_view_ttl_seconds", 'view="b"}')]


def test_a_reader_without_a_newest_query_uses_the_materialization_window() -> None:
    now = time.time()
    freshness = Freshness()
    asyncio.run(freshness.refresh([view("a", until=now - 60)], object()))
    assert freshness.newest["a"][1] == "materialization"


def test_the_age_grows_between_refreshes_and_scrapes_never_query_the_store() -> None:
    freshness = Freshness()
    reader = FakeReader({"a": time.time() - 10})
    asyncio.run(freshness.refresh([view("a")], reader))
    first = scrape(freshness)
    time.sleep(0.3)
    for _ in range(20):
        later = scrape(freshness)
    key = ("slipway_feature_view_freshness_seconds", 'source="store",view="a"}')
    assert later[key] >= first[key] + 0.25
    assert reader.calls == 1


def test_a_failed_refresh_keeps_the_last_values_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    freshness = Freshness()
    asyncio.run(freshness.refresh([view("a")], FakeReader({"a": 1000.0})))

    class Watcher:
        snapshot = type("S", (), {"views": {"a": view("a")}})()

    async def run_a_while() -> None:
        task = asyncio.create_task(
            freshness.run(Watcher(), FakeReader({}, fail=True), every=0.05)  # type: ignore[arg-type]
        )
        await asyncio.sleep(0.3)
        task.cancel()

    with caplog.at_level("WARNING"):
        asyncio.run(run_a_while())
    assert freshness.newest == {"a": (1000.0, "store")}
    assert len([r for r in caplog.records if "freshness" in r.getMessage()]) == 1


def test_sqlite_newest_event_reads_max_event_ts(tmp_path: Path) -> None:
    db = tmp_path / "online.db"
    with sqlite3.connect(db) as conn:
        for table in ("p_a", "p_b", "p_empty"):
            conn.execute(
                f"CREATE TABLE {table} (entity_key BLOB, feature_name TEXT, value BLOB, "
                "event_ts timestamp, created_ts timestamp)"
            )
        conn.executemany(
            "INSERT INTO p_a VALUES (?, 'a', x'', ?, NULL)", [(b"1", 100), (b"2", 250)]
        )
        conn.execute("INSERT INTO p_b VALUES (x'01', 'a', x'', '2026-11-01 00:00:00', NULL)")
    reader = SqliteReader(path=db, timeout=1.0)
    views = [view("a"), view("b"), view("empty"), replace(view("gone"), sqlite_table="p_gone")]
    newest = asyncio.run(reader.newest_event(views))
    assert newest == {"a": 250.0, "b": epoch_seconds("2026-11-01T00:00:00+00:00")}


def test_sqlite_newest_event_fails_as_unavailable_on_a_broken_file(tmp_path: Path) -> None:
    db = tmp_path / "online.db"
    db.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreUnavailableError, match="sqlite"):
        asyncio.run(SqliteReader(path=db, timeout=1.0).newest_event([view("a")]))
