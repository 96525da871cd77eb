"""`slipway data suggest`: a starter suite that passes on its sample and catches bad batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feature_store.demo_data import DemoSizes, generate_frames
from feature_store.gate import validate_frame
from feature_store.gate.suggest import SuggestOptions, suggest_suite
from slipway.cli.app import run

END = datetime(2026, 11, 1, 12, tzinfo=UTC)
NOW = END + timedelta(hours=1)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    sizes = DemoSizes(drivers=5, customers=20, days=2, trips=400)
    return dict(generate_frames(sizes=sizes, seed=3, end=END))


def _kinds(suite: dict[str, object]) -> list[tuple[str, str | None]]:
    return [
        (str(e["type"]), e["kwargs"].get("column"))  # type: ignore[index, union-attr]
        for e in suite["expectations"]  # type: ignore[attr-defined]
    ]


def test_an_empty_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="no rows"):
        suggest_suite(pd.DataFrame({"a": []}), source="empty")


@pytest.mark.parametrize("source", ["trips", "driver_hourly_stats", "customer_profile"])
def test_the_suggestion_passes_on_the_data_it_came_from(
    frames: dict[str, pd.DataFrame], source: str
) -> None:
    suite = suggest_suite(frames[source], source=source)
    report = validate_frame(source=source, frame=frames[source], suite=suite, now=NOW)
    assert report.success, report.failures()
    assert not report.warnings(), report.warnings()


def test_keys_types_nulls_sets_and_freshness_are_suggested(
    frames: dict[str, pd.DataFrame],
) -> None:
    kinds = _kinds(suggest_suite(frames["trips"], source="trips"))
    assert ("expect_column_values_to_be_unique", "trip_id") in kinds
    assert ("expect_column_values_to_be_unique", "driver_id") not in kinds  # repeats: not a key
    assert ("expect_column_values_to_be_in_set", "label") in kinds
    assert ("expect_column_values_to_be_between", "trip_distance_km") in kinds
    assert ("expect_column_max_to_be_between", "event_timestamp") in kinds
    assert ("expect_column_values_to_be_of_type", "event_timestamp") in kinds


@pytest.mark.parametrize(
    ("mutate", "blocking"),
    [
        (lambda f: f.assign(trip_distance_km=np.nan), True),  # nulls where there were none
        (lambda f: f.assign(trip_id=1), True),  # the key repeats
        (lambda f: f.assign(extra=1), True),  # a new column
        (lambda f: f.drop(columns=["label"]), True),  # a missing column
        (lambda f: f.assign(label=7), False),  # a value outside the seen set: a warning
        (lambda f: f.assign(trip_distance_km=f["trip_distance_km"] * 100), False),
        (lambda f: f.assign(event_timestamp=f["event_timestamp"] - pd.Timedelta(days=30)), True),
    ],
)
def test_a_bad_batch_fails_the_suggested_suite(
    frames: dict[str, pd.DataFrame], mutate: object, blocking: bool
) -> None:
    suite = suggest_suite(frames["trips"], source="trips")
    bad = mutate(frames["trips"].copy())  # type: ignore[operator]
    report = validate_frame(source="trips", frame=bad, suite=suite, now=NOW)
    if blocking:
        assert not report.success
    else:
        assert report.success
        assert report.warnings()


def test_options_name_the_keys_and_the_sample(frames: dict[str, pd.DataFrame]) -> None:
    options = SuggestOptions(keys=(), sample_rows=50, seed=1)
    suite = suggest_suite(frames["trips"], source="trips", options=options)
    assert "expect_column_values_to_be_unique" not in {k for k, _ in _kinds(suite)}
    assert "50 sampled rows of 400" in suite["meta"]["description"]


def test_cli_writes_the_suite_and_never_overwrites_without_force(
    frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "trips.parquet"
    frames["trips"].to_parquet(data)
    out = tmp_path / "expectations" / "trips.json"
    args = ["data", "suggest", "trips", "--repo", str(tmp_path), "--data", str(data)]
    assert run([*args, "--out", str(out)]) == 0
    assert out.is_file()
    capsys.readouterr()
    assert run([*args, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err
    assert len(err.strip().splitlines()) == 1
    assert run([*args, "--out", str(out), "--force", "--format", "json"]) == 0
    assert '"suite"' in capsys.readouterr().out


def test_cli_names_an_unreadable_data_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "trips.parquet"
    bad.write_text("not parquet")
    code = run(["data", "suggest", "trips", "--data", str(bad), "--out", str(tmp_path / "s.json")])
    assert code == 1
    assert "trips.parquet: not a readable Parquet file" in capsys.readouterr().err
