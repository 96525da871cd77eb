"""Capture to verdict on real files: the writer thread, the hour layout, windows, a monitor run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from model_monitor.baseline import build_baseline, load_baseline
from model_monitor.columns import EVENT_ID
from model_monitor.frame import load_window
from model_monitor.quality import GroundTruthRecord, read_ground_truth
from model_monitor.reader import capture_files
from model_monitor.report import COMPLETED, COMPLETED_WITH_VIOLATIONS, run_monitor
from model_monitor.simulate import FEATURES, IMPORTANT, driver_frame, driver_labels, driver_scores
from model_monitor.writer import CaptureWriter

pytestmark = pytest.mark.integration

START = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
PER_HOUR = 2000


def _capture_hour(writer: CaptureWriter, *, hour: int, shift: dict[str, float] | None) -> None:
    frame = driver_frame(PER_HOUR, seed=100 + hour, shift=shift)
    scores = driver_scores(frame)
    labels = driver_labels(scores)
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    base = (START + timedelta(hours=hour)).timestamp()
    for i, row in enumerate(rows):
        answer = {"predictions": [{"probability": float(scores[i]), "label": int(labels[i])}]}
        assert writer.capture(
            input_body=orjson.dumps({"instances": [row]}, option=orjson.OPT_SERIALIZE_NUMPY),
            input_type="application/json",
            output_body=orjson.dumps(answer),
            output_type="application/json",
            inference_id=f"h{hour}-{i}",
            at=base + i * 1.5,
        )


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("capture")
    with CaptureWriter(destination=root, endpoint="drivers", max_file_bytes=256 * 1024) as writer:
        _capture_hour(writer, hour=0, shift=None)
        _capture_hour(writer, hour=1, shift=None)
        _capture_hour(writer, hour=2, shift={IMPORTANT: 0.5})
    assert writer.stats().written == 3 * PER_HOUR
    last = sorted(root.rglob("*.jsonl"))[-1]
    with last.open("ab") as handle:  # a writer killed mid-line
        handle.write(b'{"captureData": {"endpointInput"')
    return root


@pytest.fixture(scope="module")
def baseline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = driver_frame(20_000, seed=1)
    scores = driver_scores(frame)
    baseline = build_baseline(
        features=frame, prediction=scores, predicted_label=driver_labels(scores)
    )
    folder = tmp_path_factory.mktemp("baseline")
    baseline.write(directory=folder)
    return folder


def test_an_ordinary_hour_completes_clean(
    captured: Path, baseline_dir: Path, tmp_path: Path
) -> None:
    baseline = load_baseline(directory=baseline_dir)
    since = START + timedelta(hours=1)
    files = capture_files(
        destination=captured,
        endpoint="drivers",
        variant="AllTraffic",
        since=since,
        until=since + timedelta(hours=1),
    )
    assert len(files) > 1  # rotated by size
    assert {f.parent.name for f in files} == {"09"}
    window = load_window(
        files=files, schema=baseline.schema, since=since, until=since + timedelta(hours=1)
    )
    assert (window.requests, window.rows) == (PER_HOUR, PER_HOUR)
    assert window.warnings() == []
    assert list(window.frame.columns[: len(FEATURES)]) == list(FEATURES)
    result = run_monitor(window=window, baseline=baseline, out_dir=tmp_path)
    assert result.status == COMPLETED, result.violations
    assert result.window.first == "2025-06-01T09:00:00Z"
    assert (tmp_path / "drift.html").is_file()


def test_a_shifted_hour_names_the_feature(
    captured: Path, baseline_dir: Path, tmp_path: Path
) -> None:
    baseline = load_baseline(directory=baseline_dir)
    since = START + timedelta(hours=2)
    files = capture_files(
        destination=captured, endpoint="drivers", variant="AllTraffic", since=since
    )
    window = load_window(files=files, schema=baseline.schema, since=since)
    assert window.report.truncated_lines == 1
    assert any("truncated" in w for w in window.warnings())
    rng = np.random.default_rng(0)
    truth = [
        GroundTruthRecord.of(str(key), int(rng.random() < 0.5))
        for key in window.frame["_inference_id"]
    ]
    labels_file = tmp_path / "ground_truth" / "2025/06/01/10/labels.jsonl"
    labels_file.parent.mkdir(parents=True)
    labels_file.write_bytes(b"".join(r.encode() for r in truth))
    labels = read_ground_truth(files=[labels_file])
    result = run_monitor(
        window=window,
        baseline=baseline,
        out_dir=tmp_path / "run",
        labels=labels,
        registered_metrics={"roc_auc": 0.9, "accuracy": 0.8},
    )
    assert result.status == COMPLETED_WITH_VIOLATIONS
    assert IMPORTANT in result.drifted_columns
    assert set(result.drifted_columns) - {"prediction", "predicted_label"} == {IMPORTANT}
    assert result.quality is not None
    assert result.quality.labelled_rows == PER_HOUR
    assert {v.metric_name for v in result.quality.violations} == {"roc_auc", "accuracy"}
    written = orjson.loads((tmp_path / "run" / "constraint_violations.json").read_bytes())
    assert IMPORTANT in {v["feature_name"] for v in written["violations"]}
    assert window.frame[EVENT_ID].nunique() == PER_HOUR
