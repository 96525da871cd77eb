"""Tests for the Great Expectations 1.x data gate (feature_store.gate)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from feature_store.errors import (
    DataFileError,
    SuiteError,
    UnknownSourceError,
    ValidationFailedError,
)
from feature_store.gate import (
    SourceReport,
    ensure_valid,
    list_sources,
    load_suite,
    read_source_frame,
    validate_frame,
    validate_sources,
    write_reports,
)
from slipway.views.gate import print_reports, render_table

ROOT = Path(__file__).resolve().parents[3]
SUITES = ROOT / "feature_repo" / "expectations"
SOURCES = ["customer_profile", "driver_hourly_stats", "trips"]
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def good_frames(now: datetime = NOW) -> dict[str, pd.DataFrame]:
    """Small frames that follow the data contract, built by hand (newest event 1 h before now)."""
    rng = np.random.default_rng(7)
    end = pd.Timestamp(now).floor("h")
    hours = pd.date_range(end=end - pd.Timedelta(hours=1), periods=24, freq="h", tz="UTC")
    driver = pd.MultiIndex.from_product(
        [np.array([1001, 1002, 1003], dtype=np.int64), hours],
        names=["driver_id", "event_timestamp"],
    ).to_frame(index=False)
    n = len(driver)
    driver["created"] = driver["event_timestamp"] + pd.Timedelta(minutes=5)
    driver["conv_rate"] = rng.random(n, dtype=np.float32)
    driver["acc_rate"] = rng.random(n, dtype=np.float32)
    driver["avg_daily_trips"] = rng.integers(0, 201, n, dtype=np.int64)
    driver["rating"] = rng.uniform(1, 5, n).astype(np.float32)
    driver["cancel_rate"] = rng.random(n, dtype=np.float32)
    driver["online_hours"] = rng.integers(0, 25, n, dtype=np.int64)

    days = pd.date_range(end=end.floor("D"), periods=5, freq="D", tz="UTC")
    customer = pd.MultiIndex.from_product(
        [np.array([201, 202, 203, 204], dtype=np.int64), days],
        names=["customer_id", "event_timestamp"],
    ).to_frame(index=False)
    m = len(customer)
    customer["created"] = customer["event_timestamp"] + pd.Timedelta(minutes=15)
    customer["current_balance"] = rng.uniform(0, 5000, m).astype(np.float32)
    customer["avg_passenger_count"] = rng.uniform(1, 4, m).astype(np.float32)
    customer["lifetime_trip_count"] = rng.integers(0, 500, m, dtype=np.int64)
    customer["customer_segment"] = [("standard", "plus", "business")[i % 3] for i in range(m)]
    customer["tenure_days"] = rng.integers(0, 2000, m, dtype=np.int64)

    k = 50
    trips = pd.DataFrame(
        {
            "trip_id": np.arange(1, k + 1, dtype=np.int64),
            "driver_id": rng.choice(np.array([1001, 1002, 1003], dtype=np.int64), k),
            "customer_id": rng.choice(np.array([201, 202, 203, 204], dtype=np.int64), k),
            "event_timestamp": end - pd.to_timedelta(rng.integers(60, 86_400, k), unit="s"),
            "trip_distance_km": rng.uniform(0.5, 40, k),
            "label": rng.integers(0, 2, k, dtype=np.int64),
            "fare": rng.uniform(3, 120, k),
        }
    )
    return {"driver_hourly_stats": driver, "customer_profile": customer, "trips": trips}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A feature repo layout in tmp_path: the shipped suites plus good Parquet data."""
    shutil.copytree(SUITES, tmp_path / "expectations")
    (tmp_path / "data").mkdir()
    for source, frame in good_frames().items():
        frame.to_parquet(tmp_path / "data" / f"{source}.parquet", index=False)
    return tmp_path


def suite_of(source: str) -> dict[str, Any]:
    return load_suite(path=SUITES / f"{source}.json")


def failed_lines(report: SourceReport) -> str:
    return "\n".join(report.failures())


# --- import cost -----------------------------------------------------------------------------


def test_importing_gate_does_not_import_great_expectations() -> None:
    code = (
        "import sys, feature_store.gate\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('great_expectations'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# --- suites ----------------------------------------------------------------------------------


def test_list_sources_are_suite_stems(repo: Path, tmp_path: Path) -> None:
    assert list_sources(repo_path=repo) == SOURCES
    assert list_sources(repo_path=tmp_path / "nowhere") == []


@pytest.mark.parametrize("source", SOURCES)
def test_shipped_suites_load_as_gx_suites(source: str) -> None:
    suite = suite_of(source)
    assert suite["name"] == source
    import great_expectations as gx

    built = gx.ExpectationSuite(**json.loads((SUITES / f"{source}.json").read_text()))
    assert len(built.expectations) == len(suite["expectations"])  # GX drops bad entries silently
    kinds = {exp["type"] for exp in suite["expectations"]}
    assert {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_max_to_be_between",
    } <= kinds


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "not found"),
        ('{"name": "x", "expectations": [', "invalid JSON at line 1"),
        ("[1, 2]", "not a Great Expectations 1.x suite"),
        ('{"name": "x"}', "expectations"),
        ('{"expectation_suite_name": "x", "expectations": []}', "0.x suite"),
        ('{"name": "x", "expectations": [{"expectation_type": "e", "kwargs": {}}]}', "0.x key"),
        ('{"name": "x", "expectations": [{"type": "e", "severity": "fatal"}]}', "severity"),
        (
            '{"name": "x", "expectations": [{"type": "expect_column_max_to_be_between", '
            '"kwargs": {"column": "a", "min_value": {"$PARAMETER": "when"}}}]}',
            "unknown $PARAMETER 'when'",
        ),
        (
            '{"name": "x", "expectations": [{"type": "expect_column_max_to_be_between", '
            '"kwargs": {"column": "a", "min_value": {"$PARAMETER": "freshness_cutoff"}}}]}',
            "max_staleness_hours",
        ),
    ],
)
def test_load_suite_errors_name_the_file(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    path = tmp_path / "broken.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SuiteError) as caught:
        load_suite(path=path)
    assert str(path) in str(caught.value)
    assert fragment in str(caught.value)


def test_unknown_expectation_type_is_a_suite_error_not_silently_dropped() -> None:
    suite = suite_of("trips")
    broken = {
        **suite,
        "expectations": [*suite["expectations"], {"type": "expect_magic", "kwargs": {}}],
    }
    with pytest.raises(SuiteError, match="expect_magic"):
        validate_frame(source="trips", frame=good_frames()["trips"], suite=broken, now=NOW)
    with pytest.raises(SuiteError, match=r"trips: not a Great Expectations 1\.x suite"):
        validate_frame(source="trips", frame=good_frames()["trips"], suite={"name": "t"}, now=NOW)


# --- data files ------------------------------------------------------------------------------


def test_read_source_frame_round_trips(repo: Path) -> None:
    frame = read_source_frame(repo_path=repo, source="trips")
    pd.testing.assert_frame_equal(frame, good_frames()["trips"])


def test_read_source_frame_unknown_source_lists_known(repo: Path) -> None:
    with pytest.raises(UnknownSourceError) as caught:
        read_source_frame(repo_path=repo, source="drivers")
    assert "drivers" in str(caught.value)
    for source in SOURCES:
        assert source in str(caught.value)


def test_read_source_frame_missing_parquet_names_file(repo: Path) -> None:
    path = repo / "data" / "trips.parquet"
    path.unlink()
    with pytest.raises(DataFileError, match="not found") as caught:
        read_source_frame(repo_path=repo, source="trips")
    assert str(path) in str(caught.value)


def test_read_source_frame_corrupt_parquet_names_file(repo: Path) -> None:
    path = repo / "data" / "trips.parquet"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(DataFileError, match="not a readable Parquet file") as caught:
        read_source_frame(repo_path=repo, source="trips")
    assert str(path) in str(caught.value)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_good_frame_passes(source: str) -> None:
    suite = suite_of(source)
    frame = good_frames()[source]
    report = validate_frame(source=source, frame=frame, suite=suite, now=NOW)
    assert report.success, report.failures()
    assert all(outcome.success for outcome in report.outcomes)
    assert report.row_count == len(frame)
    assert [o.expectation for o in report.outcomes] == [
        exp["type"] for exp in suite["expectations"]
    ]
    assert report.raw["suite_name"] == source
    assert report.raw["statistics"]["unsuccessful_expectations"] == 0
    json.dumps(report.raw)  # the raw result is plain JSON


Mutation = Callable[[pd.DataFrame], pd.DataFrame]


def _set(column: str, value: Any, row: int = 1) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame.loc[row, column] = value
        return frame

    return mutate


def _shift_all(days: int) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        columns = [c for c in ("event_timestamp", "created") if c in frame]
        return frame.assign(**{c: frame[c] - pd.Timedelta(days=days) for c in columns})

    return mutate


BAD_BATCHES: dict[str, tuple[str, Mutation, str]] = {
    "null_conv_rate": (
        "driver_hourly_stats",
        _set("conv_rate", np.nan),
        "expect_column_values_to_not_be_null(conv_rate): 1 unexpected",
    ),
    "null_segment": (
        "customer_profile",
        _set("customer_segment", None),
        "expect_column_values_to_not_be_null(customer_segment)",
    ),
    "rating_out_of_range": (
        "driver_hourly_stats",
        _set("rating", 7.0),
        "expect_column_values_to_be_between(rating): 1 unexpected",
    ),
    "zero_distance": (
        "trips",
        _set("trip_distance_km", 0.0),
        "expect_column_values_to_be_between(trip_distance_km)",
    ),
    "segment_not_in_set": (
        "customer_profile",
        _set("customer_segment", "gold"),
        "expect_column_values_to_be_in_set(customer_segment): 1 unexpected",
    ),
    "label_not_in_set": ("trips", _set("label", 2), "expect_column_values_to_be_in_set(label)"),
    "duplicate_key_and_timestamp": (
        "driver_hourly_stats",
        lambda f: pd.concat([f, f.iloc[[3]]], ignore_index=True),
        "expect_compound_columns_to_be_unique(driver_id, event_timestamp): 2 unexpected",
    ),
    "duplicate_customer_day": (
        "customer_profile",
        lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True),
        "expect_compound_columns_to_be_unique(customer_id, event_timestamp)",
    ),
    "duplicate_trip_id": (
        "trips",
        _set("trip_id", 1, row=2),
        "expect_column_values_to_be_unique(trip_id)",
    ),
    "conv_rate_as_string": (
        "driver_hourly_stats",
        lambda f: f.assign(conv_rate=f["conv_rate"].astype(str)),
        "expect_column_values_to_be_of_type(conv_rate)",
    ),
    "driver_id_as_float": (
        "driver_hourly_stats",
        lambda f: f.assign(driver_id=f["driver_id"].astype("float64")),
        "expect_column_values_to_be_of_type(driver_id): observed float64 (expected int64)",
    ),
    "naive_timestamps": (
        "trips",
        lambda f: f.assign(event_timestamp=f["event_timestamp"].dt.tz_localize(None)),
        "expect_column_values_to_be_of_type(event_timestamp)",
    ),
    "stale_driver_stats": (
        "driver_hourly_stats",
        _shift_all(30),
        "expect_column_max_to_be_between(event_timestamp): observed 2026-10-02T11:00:00+00:00 "
        "(expected >= 2026-10-30T12:00:00+00:00)",
    ),
    "stale_trips": ("trips", _shift_all(3), "expect_column_max_to_be_between(event_timestamp)"),
    "missing_column": (
        "driver_hourly_stats",
        lambda f: f.drop(columns=["rating"]),
        "expect_column_values_to_not_be_null(rating): not run: column(s) rating missing",
    ),
    "extra_column": (
        "trips",
        lambda f: f.assign(surge=1.0),
        "expect_table_columns_to_match_set: observed unexpected: surge",
    ),
    "empty_frame": (
        "customer_profile",
        lambda f: f.iloc[0:0],
        "expect_table_row_count_to_be_between: observed 0 (expected >= 1)",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_BATCHES))
def test_bad_batch_fails_naming_the_expectation(kind: str) -> None:
    source, mutate, expected = BAD_BATCHES[kind]
    frame = mutate(good_frames()[source])
    report = validate_frame(source=source, frame=frame, suite=suite_of(source), now=NOW)
    assert not report.success
    assert expected in failed_lines(report)


def test_missing_column_is_reported_not_raised() -> None:
    frame = good_frames()["driver_hourly_stats"].drop(columns=["rating", "driver_id"])
    report = validate_frame(
        source="driver_hourly_stats", frame=frame, suite=suite_of("driver_hourly_stats"), now=NOW
    )
    lines = failed_lines(report)
    assert "expect_table_columns_to_match_set: observed missing: driver_id, rating" in lines
    assert "expect_column_values_to_be_between(rating): not run" in lines
    assert "expect_compound_columns_to_be_unique(driver_id, event_timestamp): not run" in lines
    assert "conv_rate" not in lines  # the other columns are still checked, and pass


def test_freshness_is_relative_to_now() -> None:
    suite = suite_of("trips")
    frame = good_frames()["trips"]  # newest trip within a day before NOW; limit is 48 h
    fresh = validate_frame(source="trips", frame=frame, suite=suite, now=NOW + timedelta(hours=40))
    assert fresh.success, fresh.failures()
    stale = validate_frame(source="trips", frame=frame, suite=suite, now=NOW + timedelta(days=3))
    assert "expect_column_max_to_be_between(event_timestamp)" in failed_lines(stale)


def test_future_events_are_a_warning_not_a_failure() -> None:
    frame = _shift_all(-1)(good_frames()["driver_hourly_stats"])  # newest event now + 23 h
    report = validate_frame(
        source="driver_hourly_stats", frame=frame, suite=suite_of("driver_hourly_stats"), now=NOW
    )
    assert report.success
    assert report.failures() == []
    assert any("expect_column_max_to_be_between" in line for line in report.warnings())
    assert report.raw["success"] is False  # GX's own verdict counts the warning
    ensure_valid([report])


def test_validate_sources_checks_every_source(repo: Path) -> None:
    reports = validate_sources(repo_path=repo, now=NOW)
    assert [r.source for r in reports] == SOURCES
    assert all(r.success for r in reports), [r.failures() for r in reports]
    ensure_valid(reports)
    only = validate_sources(repo_path=repo, sources=["trips"], now=NOW)
    assert [r.source for r in only] == ["trips"]


def test_validate_sources_argument_errors(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownSourceError, match="known sources: customer_profile"):
        validate_sources(repo_path=repo, sources=["trips", "nope"], now=NOW)
    with pytest.raises(SuiteError, match="no expectation suites"):
        validate_sources(repo_path=tmp_path / "empty", now=NOW)
    (repo / "data" / "customer_profile.parquet").unlink()
    with pytest.raises(DataFileError, match=r"customer_profile\.parquet"):
        validate_sources(repo_path=repo, now=NOW)


def test_bad_source_fails_the_gate_with_named_expectations(repo: Path) -> None:
    bad = _set("conv_rate", np.nan)(good_frames()["driver_hourly_stats"])
    bad.to_parquet(repo / "data" / "driver_hourly_stats.parquet", index=False)
    reports = validate_sources(repo_path=repo, now=NOW)
    assert [r.success for r in reports] == [True, False, True]
    with pytest.raises(ValidationFailedError) as caught:
        ensure_valid(reports)
    message = str(caught.value)
    assert "driver_hourly_stats" in message
    assert "expect_column_values_to_not_be_null(conv_rate)" in message
    assert "trips" not in message
    assert list(caught.value.failures) == ["driver_hourly_stats"]
    assert caught.value.failures["driver_hourly_stats"] == reports[1].failures()


# --- reports ---------------------------------------------------------------------------------


def test_write_reports_writes_json_and_data_docs(tmp_path: Path) -> None:
    frames = good_frames()
    good = validate_frame(source="trips", frame=frames["trips"], suite=suite_of("trips"), now=NOW)
    bad = validate_frame(
        source="customer_profile",
        frame=frames["customer_profile"].drop(columns=["tenure_days"]),
        suite=suite_of("customer_profile"),
        now=NOW,
    )
    out = tmp_path / "reports"
    written = write_reports(reports=[good, bad], out_dir=out)
    assert written["trips"] == out / "trips.json"
    saved = json.loads(written["customer_profile"].read_text())
    assert saved["suite_name"] == "customer_profile"
    assert len(saved["results"]) == len(bad.outcomes)
    assert saved["meta"]["slipway"]["gate_passed"] is False
    index = written["data_docs"]
    assert index == out / "data_docs" / "index.html"
    html = index.read_text()
    assert "customer_profile" in html
    assert "trips" in html
    pages = {p.stem: p.read_text() for p in (out / "data_docs" / "validations").rglob("*.html")}
    assert set(pages) == {"trips", "customer_profile"}
    assert "tenure_days" in pages["customer_profile"]
    assert "missing from the data" in pages["customer_profile"]
    # Writing again replaces the earlier site instead of piling up pages.
    write_reports(reports=[good], out_dir=out)
    assert [p.stem for p in (out / "data_docs" / "validations").rglob("*.html")] == ["trips"]


@pytest.mark.slow
def test_one_million_rows_validate_in_seconds() -> None:
    n, drivers = 1_000_000, 1000
    rng = np.random.default_rng(0)
    hours = pd.date_range(end=NOW - timedelta(hours=1), periods=n // drivers, freq="h", tz="UTC")
    frame = pd.MultiIndex.from_product(
        [np.arange(1001, 1001 + drivers, dtype=np.int64), hours],
        names=["driver_id", "event_timestamp"],
    ).to_frame(index=False)
    frame["created"] = frame["event_timestamp"] + pd.Timedelta(minutes=5)
    for column in ("conv_rate", "acc_rate", "cancel_rate"):
        frame[column] = rng.random(n, dtype=np.float32)
    frame["avg_daily_trips"] = rng.integers(0, 201, n, dtype=np.int64)
    frame["rating"] = rng.uniform(1, 5, n).astype(np.float32)
    frame["online_hours"] = rng.integers(0, 25, n, dtype=np.int64)
    suite = suite_of("driver_hourly_stats")
    validate_frame(source="warm", frame=frame.head(10), suite=suite, now=NOW)  # GX import
    started = time.perf_counter()
    report = validate_frame(source="driver_hourly_stats", frame=frame, suite=suite, now=NOW)
    seconds = time.perf_counter() - started
    assert report.success, report.failures()
    assert report.row_count == n
    assert seconds < 20, f"1M rows took {seconds:.1f}s"  # about 1 s on 2 cores


def test_render_table_shows_failures_and_counts() -> None:
    frame = _set("acc_rate", 3.0)(good_frames()["driver_hourly_stats"])
    report = validate_frame(
        source="driver_hourly_stats", frame=frame, suite=suite_of("driver_hourly_stats"), now=NOW
    )
    console = Console(record=True, width=200)
    console.print(render_table([report]))
    text = console.export_text()
    assert "column_values_to_be_between" in text
    assert "FAIL" in text
    assert "1 (1.4%)" in text
    console = Console(record=True, width=200)
    print_reports([report], console, failures_only=True)
    text = console.export_text()
    assert "not_be_null" not in text  # passing rows are hidden
    assert "FAIL driver_hourly_stats: 1 failed expectation(s)" in text
