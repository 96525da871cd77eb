"""Drift with Evidently: configuration errors, bounds, agreement with Evidently's Report, and the
statistical acceptance tests (false alarms across many columns, and a real shift always caught)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from monitor_kit import window

from model_monitor.baseline import Baseline
from model_monitor.columns import PREDICTED_LABEL, PREDICTION
from model_monitor.drift import category_text, category_texts, detect_drift
from model_monitor.drift_config import DriftConfig
from model_monitor.errors import MonitorConfigError
from model_monitor.evidently_report import drift_report_html
from model_monitor.simulate import FEATURES, IMPORTANT

RUNS = 20
REQUESTS = 2000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_test": "wasserstein"}, "not a p-value drift method"),
        ({"num_distance": "ks"}, "not a distance drift method"),
        ({"cat_distance": "wasserstein"}, "only applies to numbers"),
        ({"num_threshold": 0}, "must be positive"),
        ({"alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"max_current_rows": 0}, "at least 1"),
        ({"per_column_test": {"city": "nope"}}, "not a p-value drift method"),
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(MonitorConfigError, match=message):
        DriftConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["a", None, "b"], index=[5, 3, 1]),
        pd.Series([1, 2, 3]),
        pd.Series([True, False]),
        pd.Series(pd.array([1, None, 3], dtype="Int64")),
        pd.Series(pd.array(["a", None], dtype="string")),
        pd.Series([1.0, -0.0, 0.5, 1e-7, float("nan"), float("inf"), 1e20, 2.0**53, 0.1 + 0.2]),
        pd.Series([0.1, 1.5, 2.0], dtype="float32"),
        pd.Series([1, "a", 2.0, None, True]),
    ],
    ids=["text", "int", "bool", "Int64", "string", "float64", "float32", "mixed"],
)
def test_vectorized_category_texts_are_category_text(values: pd.Series) -> None:
    fast = category_texts(values)
    assert list(fast) == [category_text(v) for v in values.dropna()]
    assert list(fast.index) == list(range(len(fast)))


def test_unknown_column_and_both_criteria_off_are_errors(baseline: Baseline) -> None:
    frame = window(200, seed=1)
    with pytest.raises(MonitorConfigError, match="not in the baseline"):
        detect_drift(
            frame,
            reference=baseline.reference,
            schema=baseline.schema,
            config=DriftConfig(columns=("nope",)),
        )
    config = DriftConfig(per_column_test={"city": None}, per_column_distance={"city": None})
    with pytest.raises(MonitorConfigError, match="both the test and the distance are off"):
        detect_drift(frame, reference=baseline.reference, schema=baseline.schema, config=config)


def test_missing_and_empty_columns_are_reported_not_tested(baseline: Baseline) -> None:
    frame = window(500, seed=2).drop(columns=["city"])
    frame["rating"] = float("nan")
    frame.loc[frame.index[:10], "acc_rate"] = 0.5
    frame.loc[frame.index[10:], "acc_rate"] = float("nan")
    result = detect_drift(frame, reference=baseline.reference, schema=baseline.schema)
    tested = {c.column for c in result.columns}
    assert {"city", "rating", "acc_rate"}.isdisjoint(tested)
    assert len(tested) == len(baseline.schema.columns) - 3
    assert "drift of city not tested: the column is missing" in result.warnings
    assert "drift of rating not tested: 0 values present, fewer than 30" in result.warnings
    assert "drift of acc_rate not tested: 10 values present, fewer than 30" in result.warnings


def test_automatic_methods_follow_the_column_kind(baseline: Baseline) -> None:
    result = detect_drift(
        window(2000, seed=3), reference=baseline.reference, schema=baseline.schema
    )
    methods = {c.column: tuple(k.method for k in c.criteria) for c in result.columns}
    assert methods["conv_rate"] == ("ks", "wasserstein")
    assert methods["avg_daily_trips"] == ("ks", "wasserstein")
    assert methods["city"] == ("chisquare", "jensenshannon")
    assert methods[PREDICTED_LABEL] == ("z", "jensenshannon")
    tested = len(result.columns)
    assert result.column("conv_rate").p_value.threshold == pytest.approx(0.05 / tested)  # type: ignore[union-attr]
    assert result.column("city").distance.threshold == 0.1  # type: ignore[union-attr]


def test_overrides_and_constraint_thresholds(baseline: Baseline) -> None:
    config = DriftConfig(
        num_test=None,
        per_column_distance={"conv_rate": "psi"},
        per_column_threshold={"conv_rate": 0.3},
        bonferroni=False,
    )
    result = detect_drift(
        window(2000, seed=4),
        reference=baseline.reference,
        schema=baseline.schema,
        config=config,
        num_distance_threshold=0.2,
    )
    conv = result.column("conv_rate")
    assert conv is not None
    assert [(c.method, c.threshold) for c in conv.criteria] == [("psi", 0.3)]
    rating = result.column("rating")
    assert rating is not None
    assert [(c.method, c.threshold) for c in rating.criteria] == [("wasserstein", 0.2)]
    city = result.column("city")
    assert city is not None
    assert city.p_value is not None
    assert city.p_value.threshold == 0.05  # no correction


def test_large_windows_are_sampled_to_the_bound(baseline: Baseline) -> None:
    config = DriftConfig(max_current_rows=1000)
    result = detect_drift(
        window(5000, seed=5), reference=baseline.reference, schema=baseline.schema, config=config
    )
    assert (result.current_rows, result.reference_rows) == (1000, 5000)


def test_scores_agree_with_evidentlys_report(baseline: Baseline, tmp_path: Path) -> None:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    frame = window(2000, seed=6, shift={"rating": 0.3})
    columns = ["rating", "city", PREDICTION]
    config = DriftConfig(columns=tuple(columns))
    result = detect_drift(
        frame, reference=baseline.reference, schema=baseline.schema, config=config
    )
    definition = DataDefinition(
        numerical_columns=["rating", PREDICTION], categorical_columns=["city"]
    )
    metrics = [
        ValueDrift(column=c.column, method=k.method, threshold=k.threshold)
        for c in result.columns
        for k in c.criteria
    ]
    snapshot = Report(metrics, include_tests=True).run(
        current_data=Dataset.from_pandas(
            frame[columns].reset_index(drop=True), data_definition=definition
        ),
        reference_data=Dataset.from_pandas(baseline.reference[columns], data_definition=definition),
    )
    values = {
        (m["config"]["column"], m["config"]["method"]): m["value"]
        for m in snapshot.dict()["metrics"]
    }
    status = {
        (t["metric_config"]["params"]["column"], t["metric_config"]["params"]["method"]): t[
            "status"
        ]
        for t in snapshot.dict()["tests"]
    }
    for column in result.columns:
        for criterion in column.criteria:
            key = (column.column, criterion.method)
            assert values[key] == pytest.approx(criterion.score, rel=1e-9, abs=1e-12)
            assert (status[key] == "FAIL") is criterion.met
    path = tmp_path / "drift.html"
    drift_report_html(
        current=frame,
        reference=baseline.reference,
        schema=baseline.schema,
        result=result,
        path=path,
    )
    html = path.read_text()
    assert "<script src=" not in html
    assert "rating" in html


@pytest.mark.slow
def test_windows_from_the_training_distribution_rarely_alarm(baseline: Baseline) -> None:
    """20 windows of 2,000 requests, 16 columns each: at most one run may report drift."""
    alarms = []
    for seed in range(1000, 1000 + RUNS):
        result = detect_drift(
            window(REQUESTS, seed=seed), reference=baseline.reference, schema=baseline.schema
        )
        assert len(result.columns) == len(FEATURES) + 2
        if result.detected:
            alarms.append((seed, [c.column for c in result.drifted]))
    assert len(alarms) <= 1, alarms


@pytest.mark.slow
def test_half_a_standard_deviation_in_one_feature_is_always_caught(baseline: Baseline) -> None:
    for seed in range(2000, 2000 + RUNS):
        frame = window(REQUESTS, seed=seed, shift={IMPORTANT: 0.5})
        result = detect_drift(frame, reference=baseline.reference, schema=baseline.schema)
        drifted = {c.column for c in result.drifted}
        assert IMPORTANT in drifted, seed
        features = drifted - {PREDICTION, PREDICTED_LABEL}
        assert features == {IMPORTANT}, (seed, features)


@pytest.mark.slow
def test_small_windows_use_the_corrected_p_value(baseline: Baseline) -> None:
    """At 300 requests the distance is noisy; the Bonferroni-corrected test keeps alarms rare."""
    alarms = 0
    for seed in range(3000, 3040):
        alarms += detect_drift(
            window(300, seed=seed), reference=baseline.reference, schema=baseline.schema
        ).detected
    assert alarms <= 5  # 40 runs at a 5% family-wise rate: 2 expected; P(more than 5) ~ 1%
    caught = [
        IMPORTANT
        in {
            c.column
            for c in detect_drift(
                window(300, seed=s, shift={IMPORTANT: 0.5}),
                reference=baseline.reference,
                schema=baseline.schema,
            ).drifted
        }
        for s in range(4000, 4010)
    ]
    assert sum(caught) >= 9


def test_drift_result_json_names_the_drifted_columns(baseline: Baseline) -> None:
    result = detect_drift(
        window(2000, seed=7, shift={"rating": 1.0}),
        reference=baseline.reference,
        schema=baseline.schema,
    )
    doc = result.to_json()
    assert doc["detected"] is True
    assert "rating" in doc["drifted_columns"]
    entry = next(c for c in doc["columns"] if c["column"] == "rating")
    assert entry["criteria"][1]["kind"] == "distance"
    assert isinstance(pd.Series(doc["drifted_columns"]).iloc[0], str)


@pytest.mark.slow
def test_uncorrected_p_values_alone_would_alarm_often(baseline: Baseline) -> None:
    """Why the rule exists: 16 tests at p < 0.05 each raise a false alarm in about half the runs."""
    naive = DriftConfig(num_distance=None, cat_distance=None, bonferroni=False)
    alarms = sum(
        detect_drift(
            window(REQUESTS, seed=seed),
            reference=baseline.reference,
            schema=baseline.schema,
            config=naive,
        ).detected
        for seed in range(1000, 1000 + RUNS)
    )
    assert alarms >= 5
