"""Real Feast in a temp folder: apply, gated materialize, online reads, point-in-time joins."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feature_store.demo_data import DemoSizes, write_demo_data
from feature_store.errors import ValidationFailedError
from feature_store.materialization import materialize
from feature_store.online import read_online
from feature_store.registry_sync import apply, plan
from feature_store.repo import FeatureRepo
from feature_store.training import get_training_frame

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 1, tzinfo=UTC)
SMALL = DemoSizes(drivers=5, customers=10, days=3, trips=500)


@pytest.fixture
def repo(feature_repo_copy: Path) -> FeatureRepo:
    write_demo_data(out_dir=feature_repo_copy / "data", sizes=SMALL, seed=7, end=END)
    return FeatureRepo(path=feature_repo_copy, env="local")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        rows: list[tuple[object, ...]] = []
        for table in sorted(tables):
            rows.extend(con.execute(f'select * from "{table}" order by 1, 2'))
    return rows


def test_plan_then_apply_is_idempotent(repo: FeatureRepo) -> None:
    first = plan(repo=repo)
    assert not first.in_sync
    assert {"driver_hourly_stats", "customer_profile", "driver_ranking_v1"} <= {
        c.name for c in first.changes
    }
    applied = apply(repo=repo)
    assert applied.applied
    again = apply(repo=repo)
    assert again.in_sync
    assert not again.applied
    assert plan(repo=repo).in_sync


def test_materialize_serves_latest_values(repo: FeatureRepo) -> None:
    apply(repo=repo)
    result = materialize(repo=repo, start=END - timedelta(days=5), end=END, now=END)
    assert "driver_hourly_stats" in result.views
    assert {r.source for r in result.reports} == {"driver_hourly_stats", "customer_profile"}

    frame = pd.read_parquet(repo.data_dir / "driver_hourly_stats.parquet")
    latest = (
        frame.sort_values("event_timestamp").groupby("driver_id").tail(1).set_index("driver_id")
    )
    drivers = [int(d) for d in latest.index] + [999_999]
    rows = read_online(
        repo=repo,
        entities={"driver_id": drivers},
        features=["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
    )
    for row in rows[:-1]:
        expected = latest.loc[row["driver_id"]]
        assert row["conv_rate"] == pytest.approx(float(expected["conv_rate"]), rel=1e-6)
        assert row["avg_daily_trips"] == int(expected["avg_daily_trips"])
    assert rows[-1]["conv_rate"] is None  # unknown driver: missing, not an error


def test_incremental_materialize_converges(repo: FeatureRepo) -> None:
    apply(repo=repo)
    materialize(repo=repo, end=END, now=END)
    online = repo.data_dir / "online_store.db"
    before = _rows(online)
    materialize(repo=repo, end=END, now=END)
    assert _rows(online) == before


def _driver_rows(rows: list[tuple[int, datetime, float]]) -> pd.DataFrame:
    n = len(rows)
    frame = pd.DataFrame(
        {
            "driver_id": np.array([r[0] for r in rows], dtype="int64"),
            "event_timestamp": pd.to_datetime([r[1] for r in rows], utc=True),
            "conv_rate": np.array([r[2] for r in rows], dtype="float32"),
        }
    )
    frame["created"] = frame["event_timestamp"]
    frame["acc_rate"] = np.float32(0.5)
    frame["avg_daily_trips"] = np.arange(n, dtype="int64")
    frame["rating"] = np.float32(4.0)
    frame["cancel_rate"] = np.float32(0.1)
    frame["online_hours"] = np.int64(8)
    return frame


def test_historical_features_are_point_in_time_correct(repo: FeatureRepo) -> None:
    t0 = END - timedelta(days=3)
    rows = [
        (1, t0, 0.1),
        (1, t0 + timedelta(hours=2), 0.2),
        (1, t0 + timedelta(hours=5), 0.3),
        (2, t0 + timedelta(hours=1), 0.7),
    ]
    _driver_rows(rows).to_parquet(repo.data_dir / "driver_hourly_stats.parquet", index=False)
    apply(repo=repo)
    asks = [
        (1, t0 - timedelta(minutes=1), None),  # before any row
        (1, t0 + timedelta(minutes=59), 0.1),
        (1, t0 + timedelta(hours=2), 0.2),  # at the row's timestamp: included
        (1, t0 + timedelta(hours=4, minutes=59), 0.2),  # a value from the future is never used
        (1, t0 + timedelta(hours=5, minutes=1), 0.3),
        (1, t0 + timedelta(hours=5) + timedelta(hours=23), 0.3),  # within the 1-day TTL
        (1, t0 + timedelta(hours=5) + timedelta(days=1, hours=1), None),  # TTL expired
        (2, t0, None),
        (2, t0 + timedelta(hours=1, seconds=1), 0.7),
    ]
    entity_df = pd.DataFrame(
        {
            "driver_id": [a[0] for a in asks],
            "event_timestamp": pd.to_datetime([a[1] for a in asks], utc=True),
            "ask": range(len(asks)),
        }
    )
    out = get_training_frame(
        repo=repo, entity_df=entity_df, features=["driver_hourly_stats:conv_rate"]
    )
    assert list(out["ask"]) == list(range(len(asks)))  # every row kept, in order
    got = [None if pd.isna(v) else round(float(v), 4) for v in out["conv_rate"]]
    assert got == [a[2] for a in asks]


def test_feast_file_store_drops_rows_that_get_training_frame_keeps(repo: FeatureRepo) -> None:
    """Documents the Feast behaviour the wrapper exists for (fails if Feast fixes it)."""
    t0 = END - timedelta(days=3)
    _driver_rows([(1, t0, 0.1)]).to_parquet(
        repo.data_dir / "driver_hourly_stats.parquet", index=False
    )
    apply(repo=repo)
    entity_df = pd.DataFrame(
        {
            "driver_id": [1, 1],
            "event_timestamp": pd.to_datetime([t0 - timedelta(hours=1), t0], utc=True),
        }
    )
    raw = (
        repo.open_store()
        .get_historical_features(entity_df=entity_df, features=["driver_hourly_stats:conv_rate"])
        .to_df()
    )
    kept = get_training_frame(
        repo=repo, entity_df=entity_df, features=["driver_hourly_stats:conv_rate"]
    )
    assert len(raw) == 1
    assert len(kept) == 2
    assert pd.isna(kept["conv_rate"][0])


BAD_BATCHES = {
    "nulls": lambda f: f.assign(conv_rate=f["conv_rate"].where(f.index % 7 != 0)),
    "out_of_range": lambda f: f.assign(conv_rate=f["conv_rate"] + np.float32(3.0)),
    "duplicate_keys": lambda f: pd.concat([f, f.tail(3)], ignore_index=True),
    "wrong_dtype": lambda f: f.assign(avg_daily_trips=f["avg_daily_trips"].astype(str)),
    "stale": lambda f: f.assign(
        event_timestamp=f["event_timestamp"] - pd.Timedelta(days=30),
        created=f["created"] - pd.Timedelta(days=30),
    ),
}
EXPECTED_NAME = {
    "nulls": "not_be_null",
    "out_of_range": "between",
    "duplicate_keys": "unique",
    "wrong_dtype": "type",
    "stale": "max",
}


@pytest.mark.parametrize("kind", sorted(BAD_BATCHES))
def test_gate_blocks_bad_batch_and_leaves_online_store_untouched(
    repo: FeatureRepo, kind: str
) -> None:
    apply(repo=repo)
    window = {"start": END - timedelta(days=5), "end": END, "now": END}
    materialize(repo=repo, **window)
    online = repo.data_dir / "online_store.db"
    digest, rows = _digest(online), _rows(online)

    source = repo.data_dir / "driver_hourly_stats.parquet"
    good = pd.read_parquet(source)
    bad = BAD_BATCHES[kind](good.copy())
    # Make the batch carry new values, so an ungated run would change the store.
    if kind != "wrong_dtype":
        bad["avg_daily_trips"] = bad["avg_daily_trips"] + 1
    bad.to_parquet(source, index=False)

    with pytest.raises(ValidationFailedError) as caught:
        materialize(repo=repo, **window)
    assert "driver_hourly_stats" in str(caught.value)
    failures = " ".join(caught.value.failures["driver_hourly_stats"])
    assert EXPECTED_NAME[kind] in failures
    assert _digest(online) == digest
    assert _rows(online) == rows


def test_ungated_bad_batch_would_change_the_store(repo: FeatureRepo) -> None:
    """Guards the test above: the bad batch really is written when the gate is off."""
    apply(repo=repo)
    window = {"start": END - timedelta(days=5), "end": END, "now": END}
    materialize(repo=repo, **window)
    online = repo.data_dir / "online_store.db"
    rows = _rows(online)
    source = repo.data_dir / "driver_hourly_stats.parquet"
    bad = pd.read_parquet(source)
    bad["conv_rate"] = bad["conv_rate"] + np.float32(3.0)
    bad.to_parquet(source, index=False)
    materialize(repo=repo, validate=False, **window)
    assert _rows(online) != rows


def test_plan_in_a_new_process_after_apply_shows_no_changes(repo: FeatureRepo) -> None:
    """Feast marks sources as updated when only their timestamps differ; we must not."""
    import subprocess
    import sys

    apply(repo=repo)
    result = subprocess.run(
        [sys.executable, "-m", "slipway", "features", "plan", "--repo", str(repo.path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "No changes" in result.stdout, result.stdout
