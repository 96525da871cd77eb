"""Issue 14 acceptance, capture: files parse as SageMaker's documented examples do.

The documented sample record and ground-truth record are kept in ``monitor_kit``
(``SAGEMAKER_SAMPLE``, ``SAGEMAKER_GROUND_TRUTH``: the data capture and ground-truth examples
of SageMaker's Model Monitor guide, elided fields filled in). Here they are files in SageMaker's
S3 key layout (``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``), found by window
with ``capture_files`` and read by both readers, next to a file the ``CaptureWriter`` wrote for
the same endpoint: every record has the sample's shape key for key and the window holds both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from monitor_kit import SAGEMAKER_GROUND_TRUTH, SAGEMAKER_SAMPLE

from model_monitor.capture import variant_folder
from model_monitor.columns import (
    INFERENCE_ID,
    INFERENCE_TIME,
    PREDICTION,
    ColumnSpec,
    InferredType,
    Schema,
    Task,
)
from model_monitor.frame import load_window
from model_monitor.quality import join_labels, read_ground_truth
from model_monitor.reader import ReadReport, capture_files, iter_records
from model_monitor.writer import CaptureWriter

SAMPLE_TIME = datetime(2022, 2, 14, 17, 25, 49, tzinfo=UTC)
SCHEMA = Schema(
    Task.REGRESSION, tuple(ColumnSpec(f"f{i}", InferredType.FRACTIONAL) for i in range(5))
)


def _shape(doc: Any) -> Any:
    """Keys (recursively) and value types of a JSON document."""
    if isinstance(doc, dict):
        return {key: _shape(value) for key, value in doc.items()}
    return type(doc).__name__


def test_documented_and_written_files_are_found_by_window_and_parse(tmp_path: Path) -> None:
    root = variant_folder(tmp_path, endpoint="ep", variant="AllTraffic")
    documented = root / "2022" / "02" / "14" / "17" / "25-49-000-documented.jsonl"
    documented.parent.mkdir(parents=True)
    documented.write_bytes(SAGEMAKER_SAMPLE + b"\n")
    writer = CaptureWriter(destination=tmp_path, endpoint="ep")
    writer.capture(
        input_body=b"1,2,3,4,5",
        input_type="text/csv",
        output_body=b"0.5",
        output_type="text/csv; charset=utf-8",
        inference_id="caller-2",
        at=(SAMPLE_TIME + timedelta(minutes=10)).timestamp(),
    )
    assert writer.close().written == 1
    since, until = SAMPLE_TIME - timedelta(hours=1), SAMPLE_TIME + timedelta(hours=1)
    files = capture_files(
        destination=tmp_path, endpoint="ep", variant="AllTraffic", since=since, until=until
    )
    assert documented in files
    assert len(files) == 2
    sample_shape = _shape(orjson.loads(SAGEMAKER_SAMPLE))
    for path in files:
        for line in path.read_bytes().splitlines():
            assert _shape(orjson.loads(line)) == sample_shape, path

    report = ReadReport()
    records = list(iter_records(files=files, since=since, until=until, report=report))
    # (files are in name order, and the writer names a file by the time it opened it)
    assert sorted(str(r.inference_id) for r in records) == ["caller-1", "caller-2"]
    assert (report.corrupt_lines, report.truncated_lines) == (0, 0)
    window = load_window(files=files, schema=SCHEMA, since=since, until=until)
    assert window.warnings() == []
    frame = window.frame.sort_values(INFERENCE_TIME).reset_index(drop=True)
    assert frame["f2"].tolist() == [153.7, 3.0]
    assert frame[PREDICTION].tolist() == [0.0254, 0.5]
    assert frame[INFERENCE_ID].tolist() == ["caller-1", "caller-2"]
    assert frame[INFERENCE_TIME].iloc[0] == "2022-02-14T17:25:49Z"
    # A window that ends before the documented record leaves it out.
    early = load_window(files=files, schema=SCHEMA, since=since, until=SAMPLE_TIME)
    assert early.rows == 0


def test_the_documented_ground_truth_file_joins_the_documented_capture(tmp_path: Path) -> None:
    capture = variant_folder(tmp_path / "capture", endpoint="ep", variant="AllTraffic")
    path = capture / "2022" / "02" / "14" / "17" / "x.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(SAGEMAKER_SAMPLE + b"\n")
    truth = tmp_path / "truth" / "2022" / "02" / "14" / "18" / "y.jsonl"
    truth.parent.mkdir(parents=True)
    truth.write_bytes(SAGEMAKER_GROUND_TRUTH + b"\n")
    window = load_window(files=[path], schema=SCHEMA)
    labels = read_ground_truth(files=[truth])
    joined = join_labels(window.frame, labels)
    assert (joined.matched, joined.unmatched) == (1, 0)
    assert joined.frame[PREDICTION].tolist() == [0.0254]
