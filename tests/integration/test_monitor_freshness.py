"""Feature freshness on a real Feast repo (applied, materialized), alone and in a monitor run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kits.feature_repos import END, demo_repo
from kits.monitor_project import make_project, router_lines

from feature_store.demo_data import DemoSizes
from feature_store.freshness import read_freshness
from feature_store.repo import FeatureRepo
from slipway.cli.app import run

pytestmark = pytest.mark.integration

SIZES = DemoSizes(drivers=5, customers=5, days=3, trips=50)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    return demo_repo(tmp_path_factory.mktemp("freshness") / "repo", sizes=SIZES, seed=3)


def test_views_are_fresh_then_stale_against_their_ttl(repo: FeatureRepo) -> None:
    fresh = read_freshness(repo=repo, now=END + timedelta(hours=1))
    by_name = {v.view: v for v in fresh.views}
    assert {"driver_hourly_stats", "customer_profile"} <= set(by_name)
    driver = by_name["driver_hourly_stats"]
    assert driver.source == "store"
    assert driver.ttl_seconds == 86_400
    assert driver.newest is not None
    assert driver.newest <= END
    assert not driver.stale
    assert set(fresh.services["driver_ranking_v1"]) >= {"driver_hourly_stats", "customer_profile"}
    late = read_freshness(repo=repo, now=END + timedelta(days=5))
    assert {"driver_hourly_stats", "customer_profile"} <= set(late.stale)


def test_a_repo_never_applied_is_a_warning_and_creates_nothing(tmp_path: Path) -> None:
    from kits.feature_repos import copy_repo

    bare = copy_repo(tmp_path / "repo", sizes=SIZES, seed=1)
    report = read_freshness(repo=bare, now=END)
    assert report.views == ()
    assert "does not exist (nothing applied yet)" in report.warnings[0]
    assert not (bare.data_dir / "registry.db").exists()


def test_stale_views_are_warnings_of_a_monitor_run(
    repo: FeatureRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project(tmp_path / "project")
    for name, value in {**project.env, "SLIPWAY_FEATURE_REPO": str(repo.path)}.items():
        monkeypatch.setenv(name, value)
    start = datetime(2026, 11, 30, 8, tzinfo=UTC)
    router_lines(project.capture_root, rows=400, seed=31, start=start)
    code = run(
        ["monitor", "run", "dev", "--model", "driver_ranking", "--since", "2026-11-30T08:00:00Z",
         "--until", "2026-11-30T09:00:00Z", "--out", str(tmp_path / "out"), "--format", "json"]
    )  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    views = {v["view"] for v in doc["freshness"]["views"]}
    assert views == {"driver_hourly_stats", "customer_profile"}  # driver_ranking_v1's views
    assert set(doc["freshness"]["stale"]) == views  # the demo data ends 2026-11-01
    assert "feature view driver_hourly_stats is stale (older than its TTL)" in doc["warnings"]
    assert all(v["constraint_check_type"] != "feature_freshness_check" for v in doc["violations"])
    assert code == (1 if doc["violations"] else 0)
