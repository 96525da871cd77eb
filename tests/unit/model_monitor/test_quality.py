"""Model quality: SageMaker's ground-truth records, the join rule, sklearn-equal metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from monitor_kit import SAGEMAKER_GROUND_TRUTH, SAGEMAKER_SAMPLE, window

from model_monitor.capture import CaptureRecord
from model_monitor.columns import EVENT_ID, INFERENCE_ID, PREDICTED_LABEL, PREDICTION, ROW, Task
from model_monitor.errors import CaptureError
from model_monitor.frame import frame_from_records
from model_monitor.quality import (
    LABEL,
    GroundTruthRecord,
    compare_metrics,
    evaluate_quality,
    join_labels,
    quality_metrics,
    read_ground_truth,
)
from model_monitor.reader import ReadReport


def _labelled(rows: int, *, seed: int) -> tuple[pd.DataFrame, list[GroundTruthRecord], np.ndarray]:
    frame = window(rows, seed=seed)
    rng = np.random.default_rng(seed)
    truth = (rng.random(rows) < frame[PREDICTION].to_numpy()).astype(int)
    records = [GroundTruthRecord.of(e, int(t)) for e, t in zip(frame[EVENT_ID], truth, strict=True)]
    return frame, records, truth


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            b'{"groundTruthData": {"encoding": "CSV"}, "eventMetadata": {"eventId": "e"}}',
            "data is missing",
        ),
        (b'{"groundTruthData": {"data": "1"}, "eventMetadata": {}}', "eventId is missing"),
        (b"[]", "must be a JSON object"),
    ],
)
def test_bad_ground_truth_records_are_refused(line: bytes, message: str) -> None:
    import orjson

    with pytest.raises(CaptureError, match=message):
        GroundTruthRecord.from_json(orjson.loads(line))


def test_bad_ground_truth_lines_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "gt.jsonl"
    path.write_bytes(SAGEMAKER_GROUND_TRUTH + b"\n{nope\n" + SAGEMAKER_GROUND_TRUTH[:30])
    report = ReadReport()
    found = read_ground_truth(files=[path], report=report)
    assert [r.event_id for r in found] == ["caller-1"]
    assert (report.corrupt_lines, report.truncated_lines) == (1, 1)


def test_no_labels_no_matches_and_bad_label_counts_are_warnings() -> None:
    frame, _, _ = _labelled(50, seed=1)
    result = evaluate_quality(
        frame, labels=[], task=Task.CLASSIFICATION, registered={"roc_auc": 0.8}
    )
    assert result.metrics == {}
    assert result.violations == ()
    assert "no labelled rows with a prediction: no quality metrics" in result.warnings
    stray = [
        GroundTruthRecord.of("unknown", 1),
        GroundTruthRecord.of(frame[EVENT_ID].iloc[0], [1, 0]),
    ]
    stray.append(GroundTruthRecord(event_id=frame[EVENT_ID].iloc[1], data="{", encoding="JSON"))
    joined = join_labels(frame, stray)
    assert (joined.matched, joined.unmatched, joined.mismatched) == (0, 1, 2)
    assert len(joined.warnings()) == 2


def test_single_class_and_non_binary_labels() -> None:
    frame, _, _ = _labelled(40, seed=2)
    ones = [GroundTruthRecord.of(e, 1) for e in frame[EVENT_ID]]
    result = evaluate_quality(frame, labels=ones, task=Task.CLASSIFICATION)
    assert "roc_auc" not in result.metrics
    assert "roc_auc needs labels of both classes: not computed" in result.warnings
    threes = [GroundTruthRecord.of(e, 3) for e in frame[EVENT_ID]]
    result = evaluate_quality(frame, labels=threes, task=Task.CLASSIFICATION)
    assert result.metrics == {}
    assert any("must be 0 or 1" in w for w in result.warnings)


def test_the_documented_ground_truth_joins_by_inference_id() -> None:
    import orjson

    capture = frame_from_records([CaptureRecord.decode(SAGEMAKER_SAMPLE)], schema=None).frame
    label = GroundTruthRecord.from_json(orjson.loads(SAGEMAKER_GROUND_TRUTH))
    assert label.labels() == [1]
    joined = join_labels(capture, [label])
    assert joined.matched == 1
    assert joined.frame[LABEL].tolist() == [1]
    by_event = GroundTruthRecord.of("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", 1)
    assert join_labels(capture, [by_event]).unmatched == 1  # the caller's id wins


def test_requests_without_inference_id_join_by_event_id_row_by_row() -> None:
    frame = pd.DataFrame(
        {
            EVENT_ID: ["a", "a", "b"],
            INFERENCE_ID: [None, None, "custom"],
            ROW: [1, 0, 0],
            PREDICTION: [0.9, 0.1, 0.6],
            PREDICTED_LABEL: [1.0, 0.0, 1.0],
        }
    )
    records = [
        GroundTruthRecord(event_id="a", data="[0, 1]", encoding="JSON"),
        GroundTruthRecord.of("custom", 0),
    ]
    joined = join_labels(frame, records)
    assert joined.matched == 2
    assert joined.frame[PREDICTION].tolist() == [0.1, 0.9, 0.6]
    assert joined.frame[LABEL].tolist() == [0, 1, 0]


def test_classification_metrics_equal_sklearns() -> None:
    from sklearn import metrics

    frame, records, truth = _labelled(3000, seed=3)
    rng = np.random.default_rng(9)
    order = rng.permutation(len(records))
    result = evaluate_quality(frame, labels=[records[i] for i in order], task=Task.CLASSIFICATION)
    scores = frame[PREDICTION].to_numpy()
    labels = frame[PREDICTED_LABEL].to_numpy().astype(int)
    expected = {
        "roc_auc": metrics.roc_auc_score(truth, scores),
        "log_loss": metrics.log_loss(truth, scores),
        "accuracy": metrics.accuracy_score(truth, labels),
        "precision": metrics.precision_score(truth, labels),
        "recall": metrics.recall_score(truth, labels),
        "f1": metrics.f1_score(truth, labels),
    }
    assert result.labelled_rows == 3000
    assert result.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-9), name


def test_regression_metrics_equal_sklearns() -> None:
    from sklearn import metrics

    rng = np.random.default_rng(4)
    truth = rng.normal(10, 3, 500)
    predicted = truth + rng.normal(0, 1, 500)
    found, warnings = quality_metrics(
        truth.tolist(), scores=predicted.tolist(), predicted=None, task=Task.REGRESSION
    )
    assert warnings == []
    assert found["rmse"] == pytest.approx(
        np.sqrt(metrics.mean_squared_error(truth, predicted)), abs=1e-9
    )
    assert found["mae"] == pytest.approx(metrics.mean_absolute_error(truth, predicted), abs=1e-9)
    assert found["r2"] == pytest.approx(metrics.r2_score(truth, predicted), abs=1e-9)


def test_rows_without_a_prediction_are_left_out_and_said() -> None:
    found, warnings = quality_metrics(
        [1, 0, 1], scores=[0.9, None, float("nan")], predicted=[1, 0, 1], task=Task.CLASSIFICATION
    )
    assert found["accuracy"] == 1.0
    assert warnings[0].startswith("2 labelled rows lack")


def test_metric_comparison_knows_which_way_is_worse() -> None:
    current = {"roc_auc": 0.80, "log_loss": 0.60, "rmse": 1.0, "accuracy": 0.79}
    registered = {"roc_auc": 0.90, "log_loss": 0.40, "rmse": 1.0, "accuracy": 0.80, "f1": 0.7}
    found = compare_metrics(current, registered, tolerance=0.05)
    assert [(v.metric_name, v.constraint_check_type) for v in found] == [
        ("log_loss", "GreaterThanThreshold"),
        ("roc_auc", "LessThanThreshold"),
    ]
    assert (
        found[1].description
        == "Metric roc_auc with 0.8 was LessThanThreshold '0.85' (registered 0.9, tolerance 0.05)"
    )
    assert (
        compare_metrics(
            current, registered, tolerance=0.05, per_metric={"roc_auc": 0.2, "log_loss": 0.3}
        )
        == []
    )


def test_quality_violations_against_registered_metrics() -> None:
    frame, records, _ = _labelled(500, seed=5)
    result = evaluate_quality(
        frame,
        labels=records,
        task=Task.CLASSIFICATION,
        registered={"roc_auc": 0.99, "accuracy": 0.0},
    )
    assert [v.metric_name for v in result.violations] == ["roc_auc"]
    few = evaluate_quality(
        frame, labels=records[:10], task=Task.CLASSIFICATION, registered={"roc_auc": 0.99}
    )
    assert few.violations == ()
    assert "10 labelled rows, fewer than 30: metrics not compared" in few.warnings


def test_a_frame_without_capture_metadata_cannot_be_joined() -> None:
    frame = window(50, seed=6).drop(columns=[EVENT_ID, INFERENCE_ID])
    result = evaluate_quality(
        frame, labels=[GroundTruthRecord.of("x", 1)], task=Task.CLASSIFICATION
    )
    assert result.metrics == {}
    assert result.warnings == (
        "labels cannot be joined: the frame has no _event_id, _inference_id column",
    )
