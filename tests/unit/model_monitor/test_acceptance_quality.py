"""Issue 14 acceptance, model quality: ground truth joined by inferenceId, sklearn's metrics.

End to end as ``slipway monitor run`` sees it: requests captured by the real
:class:`~model_monitor.writer.CaptureWriter`, each with the caller's inference id (some
requests carry several rows), ground truth in SageMaker's record (``eventId`` = the
inference id, one CSV label per request row) written to JSON Lines files and read back with
``read_ground_truth``, in shuffled order, with labels for only part of the requests and some
records that match nothing. ``run_monitor``'s metrics must equal scikit-learn's on exactly the
labelled rows to 1e-9, for a classifier and a regressor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from model_monitor.baseline import Baseline, build_baseline
from model_monitor.frame import load_window
from model_monitor.quality import GroundTruthRecord, read_ground_truth
from model_monitor.reader import capture_files
from model_monitor.report import MonitorConfig, MonitorResult, run_monitor
from model_monitor.simulate import driver_frame, driver_labels, driver_scores
from model_monitor.writer import CaptureWriter

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
ENDPOINT = "ep"
REQUESTS = 900
ROWS_PER_REQUEST = (1, 2, 3)  # request i carries ROWS_PER_REQUEST[i % 3] rows
CONFIG = MonitorConfig(evidently_html=False)


def _requests(frame: pd.DataFrame) -> list[list[int]]:
    """Row positions of each request."""
    out: list[list[int]] = []
    position = 0
    for i in range(REQUESTS):
        size = ROWS_PER_REQUEST[i % len(ROWS_PER_REQUEST)]
        out.append(list(range(position, position + size)))
        position += size
    assert position == len(frame)
    return out


def _capture(
    destination: Path, frame: pd.DataFrame, answers: Callable[[list[int]], list[object]]
) -> list[list[int]]:
    """Capture every request with inference id ``req-<i>``; the row positions per request."""
    requests = _requests(frame)
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    writer = CaptureWriter(destination=destination, endpoint=ENDPOINT)
    for i, members in enumerate(requests):
        writer.capture(
            input_body=orjson.dumps({"instances": [rows[p] for p in members]}),
            input_type="application/json",
            output_body=orjson.dumps({"predictions": answers(members)}),
            output_type="application/json",
            inference_id=f"req-{i}",
            at=T0.timestamp() + i,
        )
    assert writer.close().written == REQUESTS
    return requests


def _ground_truth(
    folder: Path, requests: list[list[int]], truth: np.ndarray, *, seed: int
) -> list[int]:
    """Write labels for two requests in three (shuffled, plus unmatched ids); labelled rows."""
    rng = np.random.default_rng(seed)
    labelled = [i for i in range(REQUESTS) if i % 3 != 1]
    records = [
        GroundTruthRecord(
            event_id=f"req-{i}",
            data=",".join(str(truth[p]) for p in requests[i]),
            encoding="CSV",
        )
        for i in labelled
    ]
    records += [GroundTruthRecord.of(f"nobody-{k}", 1) for k in range(7)]
    order = rng.permutation(len(records))
    half = len(order) // 2
    for name, part in (("a.jsonl", order[:half]), ("b.jsonl", order[half:])):
        path = folder / "2026" / "03" / "04" / "10" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(records[k].encode() for k in part))
    return sorted(p for i in labelled for p in requests[i])


def _monitor(baseline: Baseline, tmp_path: Path) -> tuple[MonitorResult, list[GroundTruthRecord]]:
    since, until = T0, T0 + timedelta(seconds=REQUESTS)
    files = capture_files(
        destination=tmp_path / "capture", endpoint=ENDPOINT, variant="AllTraffic",
        since=since, until=until,
    )  # fmt: skip
    window = load_window(files=files, schema=baseline.schema, since=since, until=until)
    truth_files = sorted((tmp_path / "truth").rglob("*.jsonl"))
    labels = read_ground_truth(files=truth_files)
    result = run_monitor(
        baseline=baseline, out_dir=tmp_path / "out", window=window, labels=labels, config=CONFIG
    )
    return result, labels


def test_classifier_metrics_on_labels_joined_by_inference_id_equal_sklearns(
    baseline: Baseline, tmp_path: Path
) -> None:
    from sklearn import metrics

    frame = driver_frame(REQUESTS * 2, seed=21)  # 1 + 2 + 3 rows per three requests
    scores = driver_scores(frame)
    predicted = driver_labels(scores)
    truth = (np.random.default_rng(22).random(len(frame)) < scores).astype(int)

    def answers(members: list[int]) -> list[object]:
        return [{"probability": float(scores[p]), "label": int(predicted[p])} for p in members]

    requests = _capture(tmp_path / "capture", frame, answers)
    rows = _ground_truth(tmp_path / "truth", requests, truth, seed=23)
    result, labels = _monitor(baseline, tmp_path)

    assert len(labels) == len(range(0, REQUESTS, 3)) * 2 + 7  # records: two requests in three
    quality = result.quality
    assert quality is not None
    assert quality.labelled_rows == len(rows)
    y, p, yhat = truth[rows], scores[rows], predicted[rows]
    expected = {
        "roc_auc": metrics.roc_auc_score(y, p),
        "log_loss": metrics.log_loss(y, p),
        "accuracy": metrics.accuracy_score(y, yhat),
        "precision": metrics.precision_score(y, yhat),
        "recall": metrics.recall_score(y, yhat),
        "f1": metrics.f1_score(y, yhat),
    }
    assert quality.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert quality.metrics[name] == pytest.approx(value, abs=1e-9), name
    assert any("7 ground-truth records match no captured request" in w for w in quality.warnings)
    summary = orjson.loads(result.files["summary"].read_bytes())
    for name, value in expected.items():
        assert summary["model_quality"]["metrics"][name] == pytest.approx(value, abs=1e-9)


def test_regressor_metrics_on_labels_joined_by_inference_id_equal_sklearns(
    tmp_path: Path,
) -> None:
    from sklearn import metrics

    train = driver_frame(5000, seed=31)
    regression = build_baseline(
        features=train, prediction=10 + 20 * driver_scores(train), task="regression"
    )
    frame = driver_frame(REQUESTS * 2, seed=32)
    values = 10 + 20 * driver_scores(frame)
    truth = np.round(values + np.random.default_rng(33).normal(0, 2, len(frame)), 3)

    def answers(members: list[int]) -> list[object]:
        return [{"prediction": float(values[p])} for p in members]

    requests = _capture(tmp_path / "capture", frame, answers)
    rows = _ground_truth(tmp_path / "truth", requests, truth, seed=34)
    result, _ = _monitor(regression, tmp_path)

    quality = result.quality
    assert quality is not None
    assert quality.labelled_rows == len(rows)
    y, p = truth[rows], values[rows]
    expected = {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y, p))),
        "mse": metrics.mean_squared_error(y, p),
        "mae": metrics.mean_absolute_error(y, p),
        "r2": metrics.r2_score(y, p),
    }
    assert quality.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert quality.metrics[name] == pytest.approx(value, abs=1e-9), name
