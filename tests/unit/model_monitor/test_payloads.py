"""Captured answers to predictions: every answer shape the inference server gives, per task."""

from __future__ import annotations

import pandas as pd
import pytest

from model_monitor.columns import PREDICTED_LABEL, PREDICTION
from model_monitor.errors import CaptureError
from model_monitor.payloads import output_predictions


def test_a_binary_answer_is_its_probability_and_label() -> None:
    body = '{"predictions": [{"probability": 0.25, "label": 0}, {"probability": 0.75, "label": 1}]}'
    assert output_predictions(body, "JSON", "application/json") == [(0.25, 0), (0.75, 1)]
    assert output_predictions("0.25,0\n0.75,1\n", "CSV", "text/csv") == [(0.25, 0), (0.75, 1)]


def test_a_multiclass_answer_scores_its_top_class_probability() -> None:
    body = (
        '{"predictions": [{"probabilities": {"a": 0.2, "b": 0.7, "c": 0.1}, "label": "b"},'
        ' {"probabilities": {"a": 0.5, "b": 0.25, "c": 0.25}, "label": "a"}]}'
    )
    assert output_predictions(body, "JSON", "application/json") == [(0.7, "b"), (0.5, "a")]
    csv = "b,0.2,0.7,0.1\n2,0.1,0.3,0.6\n"
    assert output_predictions(csv, "CSV", "text/csv") == [(0.7, "b"), (0.6, 2)]


def test_a_regression_answer_has_no_label() -> None:
    body = '{"predictions": [{"prediction": 12.5}, {"prediction": -3.0}]}'
    assert output_predictions(body, "JSON", "application/json") == [(12.5, None), (-3.0, None)]
    assert output_predictions("12.5\n-3.0\n", "CSV", "text/csv") == [(12.5, None), (-3.0, None)]


@pytest.mark.parametrize(
    ("body", "encoding", "content_type"),
    [
        ("b,high,low\n", "CSV", "text/csv"),
        ('{"predictions": [{"probabilities": {"a": "x"}}]}', "JSON", "application/json"),
    ],
)
def test_a_multiclass_answer_without_numbers_is_refused(
    body: str, encoding: str, content_type: str
) -> None:
    with pytest.raises(CaptureError):
        output_predictions(body, encoding, content_type)


def test_a_regressors_empty_label_column_is_not_an_extra_column() -> None:
    from model_monitor.baseline import build_baseline
    from model_monitor.violations import EXTRA_COLUMN, check_constraints

    features = pd.DataFrame({"x": [float(i) for i in range(200)]})
    baseline = build_baseline(features=features, prediction=features["x"] * 2, task="regression")
    window = features.assign(**{PREDICTION: features["x"] * 2, PREDICTED_LABEL: None})
    checks = {
        v.constraint_check_type for v in check_constraints(window, constraints=baseline.constraints)
    }
    assert EXTRA_COLUMN not in checks
    labelled = window.assign(**{PREDICTED_LABEL: 1})  # a label where the baseline has none
    found = check_constraints(labelled, constraints=baseline.constraints)
    assert [(v.feature_name, v.constraint_check_type) for v in found] == [
        (PREDICTED_LABEL, EXTRA_COLUMN)
    ]
