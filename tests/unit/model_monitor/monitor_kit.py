"""Helpers for the monitoring tests: a synthetic baseline and capture windows drawn from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from model_monitor.baseline import Baseline, build_baseline
from model_monitor.capture import CapturedPayload, CaptureRecord, Encoding, hour_folder
from model_monitor.columns import (
    EVENT_ID,
    INFERENCE_ID,
    INFERENCE_TIME,
    PREDICTED_LABEL,
    PREDICTION,
    ROW,
)
from model_monitor.simulate import driver_frame, driver_labels, driver_scores

T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)

# The capture record of shared/reference/monitoring.md (SageMaker's documented sample), with
# its elided fields filled in.
SAGEMAKER_SAMPLE = (
    b'{"captureData": {'
    b'"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", '
    b'"data": "69,0,153.7,109,194.0", "encoding": "CSV"}, '
    b'"endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", '
    b'"data": "0.0254", "encoding": "CSV"}}, '
    b'"eventMetadata": {"eventId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", '
    b'"inferenceId": "caller-1", "inferenceTime": "2022-02-14T17:25:49Z"}, '
    b'"eventVersion": "0"}'
)
SAGEMAKER_GROUND_TRUTH = (
    b'{"groundTruthData": {"data": "1", "encoding": "CSV"}, '
    b'"eventMetadata": {"eventId": "caller-1"}, "eventVersion": "0"}'
)


def training_baseline(rows: int = 20_000, *, seed: int = 1) -> Baseline:
    frame = driver_frame(rows, seed=seed)
    scores = driver_scores(frame)
    return build_baseline(features=frame, prediction=scores, predicted_label=driver_labels(scores))


def window(rows: int, *, seed: int, shift: Mapping[str, float] | None = None) -> pd.DataFrame:
    """A monitoring frame like load_window builds: features, predictions, metadata."""
    frame = driver_frame(rows, seed=seed, shift=shift)
    scores = driver_scores(frame)
    frame[PREDICTION] = scores
    frame[PREDICTED_LABEL] = driver_labels(scores).astype(np.float64)
    frame[EVENT_ID] = [f"ev-{seed}-{i}" for i in range(rows)]
    frame[INFERENCE_ID] = None
    frame[INFERENCE_TIME] = "2025-03-04T10:00:00Z"
    frame[ROW] = 0
    return frame


def json_record(
    rows: Sequence[Mapping[str, Any]],
    predictions: Sequence[Mapping[str, Any]] | None,
    *,
    at: datetime = T0,
    event_id: str = "e-1",
    inference_id: str | None = None,
) -> CaptureRecord:
    out = None
    if predictions is not None:
        out = CapturedPayload(
            orjson.dumps({"predictions": list(predictions)}).decode(),
            Encoding.JSON,
            "application/json",
            "OUTPUT",
        )
    return CaptureRecord(
        event_id=event_id,
        inference_time=at,
        endpoint_input=CapturedPayload(
            orjson.dumps({"instances": list(rows)}).decode(),
            Encoding.JSON,
            "application/json",
            "INPUT",
        ),
        endpoint_output=out,
        inference_id=inference_id,
    )


def write_records(root: Path, records: Sequence[CaptureRecord], *, name: str = "f.jsonl") -> Path:
    """Write records into the hour folder of the first one (like the writer would)."""
    folder = hour_folder(root, records[0].inference_time)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"".join(r.encode() for r in records))
    return path


def frame_records(frame: pd.DataFrame, *, start: datetime = T0) -> list[CaptureRecord]:
    """One single-row JSON request per frame row, a second apart."""
    features = [
        c for c in frame.columns if not c.startswith("_") and c not in (PREDICTION, PREDICTED_LABEL)
    ]
    found = []
    for i, row in enumerate(frame[features].to_dict(orient="records")):
        clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        prediction = {
            "probability": float(frame[PREDICTION].iloc[i]),
            "label": int(frame[PREDICTED_LABEL].iloc[i]),
        }
        found.append(
            json_record([clean], [prediction], at=start + timedelta(seconds=i), event_id=f"e-{i}")
        )
    return found
