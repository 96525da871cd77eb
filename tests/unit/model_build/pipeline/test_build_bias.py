"""Bias metrics match hand-computed values (SageMaker Clarify's definitions) on a small table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model_build.definition.schema import BiasSection
from model_build.pipeline.steps.bias import bias_checks, measure_bias, post_training
from model_bundle.task import Task

# 10 rows: facet d = segment "b" (4 rows), facet a = the other 6.
TABLE = pd.DataFrame(
    {
        "segment": ["a", "a", "a", "a", "a", "a", "b", "b", "b", "b"],
        "label":   [1,   1,   1,   0,   0,   0,   1,   0,   0,   0],
        "pred":    [1,   1,   0,   1,   0,   0,   1,   1,   0,   0],
    }
)  # fmt: skip


def _section(**changes: object) -> BiasSection:
    return BiasSection.model_validate({"attribute": "segment", "facet": ["b"], **changes})


def test_a_metric_with_a_zero_denominator_is_none_and_fails_its_bound() -> None:
    metrics, notes = post_training(
        facet_d=np.array([True, True, False]),
        positive=np.array([True, False, True]),
        predicted=np.array([True, False, False]),
    )
    assert metrics["disparate_impact"] is None  # facet a has no predicted positives
    assert any("disparate_impact" in n for n in notes)
    report = measure_bias(
        bias=_section(), task=Task.BINARY, classes=[0, 1], training=TABLE,
        holdout=TABLE.iloc[:6], label="label", predicted=TABLE["pred"].to_numpy()[:6],
    )  # fmt: skip
    assert report.metrics["disparate_impact"] is None  # no facet-d rows in this holdout
    section = _section(thresholds={"disparate_impact": {"min": 0.8}})
    (check,) = bias_checks(report, bias=section)
    assert not check.passed
    assert "cannot be computed" in check.message


def test_unknown_bias_metrics_and_empty_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown bias metric"):
        _section(thresholds={"fairness": {"min": 0.1}})
    with pytest.raises(ValueError, match="give min or max"):
        _section(thresholds={"disparate_impact": {}})


def test_clarify_metrics_match_hand_computed_values() -> None:
    report = measure_bias(
        bias=_section(), task=Task.BINARY, classes=[0, 1], training=TABLE, holdout=TABLE,
        label="label", predicted=TABLE["pred"].to_numpy(),
    )  # fmt: skip
    n_a, n_d = 6, 4
    q_a, q_d = 3 / 6, 1 / 4  # observed positive labels
    qhat_a, qhat_d = 3 / 6, 2 / 4  # predicted positive labels
    tpr_a, tpr_d = 2 / 3, 1 / 1  # recall among observed positives
    expected = {
        "class_imbalance": (n_a - n_d) / (n_a + n_d),
        "label_proportion_difference": q_a - q_d,
        "disparate_impact": qhat_d / qhat_a,
        "positive_rate_difference": qhat_a - qhat_d,
        "equal_opportunity_difference": tpr_a - tpr_d,
    }
    assert report.metrics == pytest.approx(expected, abs=1e-12)
    assert report.counts == {"training_a": 6, "training_d": 4, "holdout_a": 6, "holdout_d": 4}
    section = _section(
        thresholds={"disparate_impact": {"min": 0.8, "max": 1.25},
                    "equal_opportunity_difference": {"min": -0.1}},
    )  # fmt: skip
    checks = bias_checks(report, bias=section)
    assert [(c.metric, c.passed) for c in checks] == [
        ("disparate_impact", True), ("disparate_impact", True),
        ("equal_opportunity_difference", False),
    ]  # fmt: skip
    assert all(c.kind == "bias" for c in checks)


def test_multiclass_positive_labels_and_a_regression_threshold() -> None:
    table = TABLE.assign(
        label=["hi", "hi", "hi", "lo", "mid", "lo", "hi", "lo", "mid", "lo"],
        pred=["hi", "hi", "lo", "hi", "lo", "lo", "hi", "hi", "lo", "lo"],
    )
    multi = measure_bias(
        bias=_section(positive=["hi"]), task=Task.MULTICLASS, classes=["hi", "lo", "mid"],
        training=table, holdout=table, label="label", predicted=table["pred"].to_numpy(),
    )  # fmt: skip
    binary = measure_bias(
        bias=_section(), task=Task.BINARY, classes=[0, 1], training=TABLE, holdout=TABLE,
        label="label", predicted=TABLE["pred"].to_numpy(),
    )  # fmt: skip
    assert multi.metrics == pytest.approx(binary.metrics)
    fares = TABLE.assign(label=TABLE["label"] * 20.0 + 5.0, pred=TABLE["pred"] * 20.0 + 4.0)
    regression = measure_bias(
        bias=_section(label_threshold=10.0), task=Task.REGRESSION, classes=None,
        training=fares, holdout=fares, label="label", predicted=fares["pred"].to_numpy(),
    )  # fmt: skip
    assert regression.metrics == pytest.approx(binary.metrics)
