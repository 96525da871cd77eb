"""Constraint checks: each of Model Monitor's check types, its threshold, and a clean window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from monitor_kit import window

from model_monitor.baseline import Baseline
from model_monitor.columns import PREDICTION
from model_monitor.drift import detect_drift
from model_monitor.violations import (
    BASELINE_DRIFT,
    CATEGORICAL_VALUES,
    COMPLETENESS,
    DATA_TYPE,
    EXTRA_COLUMN,
    MISSING_COLUMN,
    Violation,
    check_constraints,
    write_violations,
)


def _checks(frame: pd.DataFrame, baseline: Baseline, **kwargs: object) -> list[tuple[str, str]]:
    found = check_constraints(frame, constraints=baseline.constraints, **kwargs)  # type: ignore[arg-type]
    return [(v.feature_name, v.constraint_check_type) for v in found]


def test_missing_and_extra_columns(baseline: Baseline) -> None:
    frame = window(500, seed=1).drop(columns=["city", PREDICTION])
    frame["surprise"] = 1.0
    assert _checks(frame, baseline) == [
        ("city", MISSING_COLUMN),
        (PREDICTION, MISSING_COLUMN),
        ("surprise", EXTRA_COLUMN),
    ]


def test_wrong_types_above_the_threshold(baseline: Baseline) -> None:
    frame = window(500, seed=2)
    rating = frame["rating"].astype(object)
    rating.iloc[:60] = "five stars"  # 12% > 10%
    frame["rating"] = rating
    trips = frame["avg_daily_trips"].astype(np.float64)
    trips.iloc[:40] = 2.5  # 8% fractional in an Integral column: under the threshold
    frame["avg_daily_trips"] = trips
    city = frame["city"].astype(object)
    city.iloc[:100] = 3  # numbers in a String column: a type and a domain problem
    frame["city"] = city
    found = check_constraints(frame, constraints=baseline.constraints)
    assert [(v.feature_name, v.constraint_check_type) for v in found] == [
        ("rating", DATA_TYPE),
        ("city", DATA_TYPE),
        ("city", CATEGORICAL_VALUES),
    ]
    assert "Expected data type: Fractional, 60 of 500 values (12.00%)" in found[0].description


def test_integral_columns_refuse_fractions(baseline: Baseline) -> None:
    frame = window(500, seed=3)
    frame["tenure_days"] = frame["tenure_days"] + 0.5
    assert _checks(frame, baseline) == [("tenure_days", DATA_TYPE)]


def test_negative_values_in_a_non_negative_column(baseline: Baseline) -> None:
    frame = window(500, seed=4)
    frame["trip_distance_km"] = -frame["trip_distance_km"]
    found = check_constraints(frame, constraints=baseline.constraints)
    assert [(v.feature_name, v.constraint_check_type) for v in found] == [
        ("trip_distance_km", DATA_TYPE)
    ]
    assert "is_non_negative" in found[0].description


def test_completeness_drop_beyond_noise(baseline: Baseline) -> None:
    frame = window(2000, seed=5)
    frame.loc[frame.index[:200], "acc_rate"] = np.nan  # 90% against 100%
    frame.loc[frame.index[:50], "current_balance"] = np.nan  # ~95.5% against 98%
    frame.loc[frame.index[:10], "conv_rate"] = np.nan  # 99.5%: within the 1% tolerance
    found = check_constraints(frame, constraints=baseline.constraints)
    assert [(v.feature_name, v.constraint_check_type) for v in found] == [
        ("acc_rate", COMPLETENESS),
        ("current_balance", COMPLETENESS),
    ]
    assert "Expected completeness: 1, observed: 0.9" in found[0].description


def test_unknown_categories_above_the_threshold(baseline: Baseline) -> None:
    frame = window(1000, seed=6)
    frame.loc[frame.index[:150], "city"] = "madrid"
    frame.loc[frame.index[:50], "vehicle_type"] = "tram"  # 5%: under the threshold
    found = check_constraints(frame, constraints=baseline.constraints)
    assert [(v.feature_name, v.constraint_check_type) for v in found] == [
        ("city", CATEGORICAL_VALUES)
    ]
    assert "(e.g. madrid)" in found[0].description


def test_drifted_columns_become_baseline_drift_violations(baseline: Baseline) -> None:
    frame = window(2000, seed=7, shift={"rating": 1.0})
    drift = detect_drift(frame, reference=baseline.reference, schema=baseline.schema)
    found = check_constraints(frame, constraints=baseline.constraints, drift=drift)
    assert ("rating", BASELINE_DRIFT) in [(v.feature_name, v.constraint_check_type) for v in found]
    described = next(v.description for v in found if v.feature_name == "rating")
    assert "distance: " in described
    assert " exceeds threshold: 0.1" in described
    off = baseline.constraints.with_config(perform_comparison=False)
    assert not [
        v
        for v in check_constraints(frame, constraints=off, drift=drift)
        if v.constraint_check_type == BASELINE_DRIFT
    ]


def test_disabled_evaluation_and_empty_windows_check_nothing(baseline: Baseline) -> None:
    frame = window(300, seed=8).drop(columns=["city"])
    off = baseline.constraints.with_config(evaluate_constraints=False)
    assert check_constraints(frame, constraints=off) == []
    assert check_constraints(frame.iloc[:0], constraints=baseline.constraints) == []


def test_a_window_from_the_training_distribution_is_clean(baseline: Baseline) -> None:
    for seed in range(10, 15):
        assert _checks(window(2000, seed=seed), baseline) == []


def test_violations_file_format(tmp_path: Path) -> None:
    path = tmp_path / "constraint_violations.json"
    write_violations(path=path, violations=[Violation("a", DATA_TYPE, "why")])
    assert orjson.loads(path.read_bytes()) == {
        "violations": [
            {"feature_name": "a", "constraint_check_type": "data_type_check", "description": "why"}
        ]
    }
