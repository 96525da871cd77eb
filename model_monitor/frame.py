"""Captured records to a columnar monitoring frame (the fast path for analysis).

:func:`load_window` reads capture files line by line with orjson, keeps the records in the time
window, parses their bodies (:mod:`model_monitor.payloads`) and builds one numpy column per
name, file by file, so memory stays close to the final frame's. :func:`frame_from_records`
does the same for records already in memory. The frame has one row per scored row: the
features, :data:`~model_monitor.columns.PREDICTION` / ``PREDICTED_LABEL`` and the metadata
columns (see :mod:`model_monitor.columns`).

Columns of numeric features are float64 (missing values are NaN) unless a value of another type
was sent, in which case the column is kept as objects so the data type check can count them.
Every record that cannot be used is counted in the window's warnings, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from model_monitor.capture import CaptureRecord, format_time, parse_time
from model_monitor.columnar import Chunk, Packed, chunk_arrays, concat, pack, unpack
from model_monitor.columns import Schema
from model_monitor.errors import CaptureError
from model_monitor.payloads import Prediction, input_rows, output_predictions
from model_monitor.reader import ReadReport, window_bounds

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class CaptureWindow:
    """A window of captured requests as a frame, with what could not be used.

    Attributes:
        frame: One row per scored row (features, predictions, metadata columns).
        report: Counts of files, lines and bad lines read.
        requests: Records in the window (requests; each may hold several rows).
        bad_inputs: Records whose request body could not be parsed (left out).
        bad_outputs: Records whose response could not be parsed, or whose number of
            predictions differs from the number of input rows (kept without predictions).
    """

    frame: pd.DataFrame
    report: ReadReport
    requests: int = 0
    bad_inputs: int = 0
    bad_outputs: int = 0

    @property
    def rows(self) -> int:
        """Scored rows in the frame."""
        return len(self.frame)

    def warnings(self) -> list[str]:
        """One sentence per problem met (empty when everything was usable)."""
        found = self.report.warnings()
        if self.bad_inputs:
            found.append(f"{self.bad_inputs} captured request bodies could not be parsed (skipped)")
        if self.bad_outputs:
            found.append(
                f"{self.bad_outputs} captured responses could not be matched to their rows "
                "(rows kept without predictions)"
            )
        if not self.requests:
            found.append("the capture window holds no records")
        return found


@dataclass(frozen=True)
class _Layout:
    """What parsing needs from the schema, computed once per load."""

    features: tuple[str, ...]
    numeric: frozenset[str]

    @classmethod
    def of(cls, schema: Schema | None) -> _Layout:
        if schema is None:
            return cls((), frozenset())
        numeric = frozenset(c.name for c in schema.columns if c.inferred_type.numeric)
        return cls(schema.features, numeric)


def load_window(
    *,
    files: Sequence[Path],
    schema: Schema | None,
    since: datetime | None = None,
    until: datetime | None = None,
    workers: int = 1,
) -> CaptureWindow:
    """Load the records of ``files`` with ``inferenceTime`` in ``[since, until)`` as a frame.

    ``schema`` gives the feature order of CSV bodies and value arrays and which features are
    numeric; without it only JSON objects name their columns. Times compare at whole seconds.
    ``workers`` > 1 parses files in that many processes (rows keep the order of ``files``).

    Raises:
        CaptureError: ``since`` is not before ``until``, or ``workers`` is below 1.
        OSError: A file cannot be read.
    """
    low, high = window_bounds(since, until)
    if workers < 1:
        raise CaptureError(f"workers must be at least 1, got {workers}")
    layout = _Layout.of(schema)
    task = partial(_load_file, layout=layout, low=low, high=high, schema=schema)
    if workers > 1 and len(files) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(task, files))
    else:
        results = [task(path) for path in files]
    report = ReadReport()
    totals = Chunk()
    parts = []
    for packed, file_report, counts in results:
        report.merge(file_report)
        totals.requests += counts[0]
        totals.bad_inputs += counts[1]
        totals.bad_outputs += counts[2]
        if packed is not None:
            parts.append(unpack(packed))
    return CaptureWindow(
        frame=concat(parts, schema=schema),
        report=report,
        requests=totals.requests,
        bad_inputs=totals.bad_inputs,
        bad_outputs=totals.bad_outputs,
    )


def _load_file(
    path: Path, *, layout: _Layout, low: str | None, high: str | None, schema: Schema | None
) -> tuple[Packed | None, ReadReport, tuple[int, int, int]]:
    """One file's packed columns, read report and (requests, bad inputs, bad outputs)."""
    chunk = Chunk()
    report = ReadReport()
    _read_file(path, chunk, report=report, low=low, high=high, layout=layout)
    packed = pack(chunk_arrays(chunk, schema=schema)) if chunk.rows else None
    return packed, report, (chunk.requests, chunk.bad_inputs, chunk.bad_outputs)


def frame_from_records(records: Iterable[CaptureRecord], *, schema: Schema | None) -> CaptureWindow:
    """Build the monitoring frame of records already parsed (e.g. from :func:`iter_records`)."""
    chunk = Chunk()
    report = ReadReport()
    layout = _Layout.of(schema)
    for record in records:
        report.records += 1
        _add(record.to_json(), chunk, layout=layout)
    parts = [chunk_arrays(chunk, schema=schema)] if chunk.rows else []
    return CaptureWindow(
        frame=concat(parts, schema=schema),
        report=report,
        requests=chunk.requests,
        bad_inputs=chunk.bad_inputs,
        bad_outputs=chunk.bad_outputs,
    )


def _read_file(
    path: Path,
    chunk: Chunk,
    *,
    report: ReadReport,
    low: str | None,
    high: str | None,
    layout: _Layout,
) -> None:
    """Parse one file's lines into ``chunk``, counting bad lines in ``report``."""
    report.files += 1
    lines = path.read_bytes().split(b"\n")
    last = len(lines) - 1
    loads = orjson.loads
    for number, line in enumerate(lines):
        if not line:
            continue
        report.lines += 1
        try:
            doc = loads(line)
            moment = _time(doc["eventMetadata"]["inferenceTime"])
        except (orjson.JSONDecodeError, KeyError, TypeError, CaptureError) as exc:
            if not line.strip():
                report.lines -= 1
                continue
            reason = "not JSON" if isinstance(exc, orjson.JSONDecodeError) else _reason(line)
            report.corrupt(path, number + 1, reason, truncated=number == last)
            continue
        if (low is not None and moment < low) or (high is not None and moment >= high):
            report.outside_window += 1
            continue
        if not _add(doc, chunk, layout=layout, moment=moment):
            report.corrupt(path, number + 1, _reason(line), truncated=number == last)
            continue
        report.records += 1


def _add(doc: Any, chunk: Chunk, *, layout: _Layout, moment: str | None = None) -> bool:
    """Add one record's rows to ``chunk``; False when the record itself is malformed."""
    try:
        capture = doc["captureData"]
        meta = doc["eventMetadata"]
        event_id = meta["eventId"]
        inference_id = meta.get("inferenceId")
        when = moment if moment is not None else _time(meta["inferenceTime"])
        given_in = capture.get("endpointInput")
        given_out = capture.get("endpointOutput")
        if not isinstance(event_id, str) or (given_in is None and given_out is None):
            return False
    except (KeyError, TypeError, AttributeError, CaptureError):
        return False
    chunk.requests += 1
    try:
        rows = (
            input_rows(
                given_in["data"],
                given_in["encoding"],
                given_in.get("observedContentType") or "",
                features=layout.features,
                numeric=layout.numeric,
            )
            if given_in is not None
            else None
        )
    except (CaptureError, KeyError, TypeError, AttributeError):
        chunk.bad_inputs += 1
        return True
    predictions: list[Prediction] | None = None
    if given_out is not None:
        try:
            predictions = output_predictions(
                given_out["data"], given_out["encoding"], given_out.get("observedContentType") or ""
            )
        except (CaptureError, KeyError, TypeError, AttributeError):
            predictions = None
    if rows is None:  # output-only capture: one row per prediction
        rows = [{} for _ in predictions or ()]
    if not rows:
        chunk.bad_inputs += 1
        return True
    count = len(rows)
    if given_out is not None and (predictions is None or len(predictions) != count):
        chunk.bad_outputs += 1
        predictions = None
    chunk.rows.extend(rows)
    if predictions is None:
        chunk.scores.extend([None] * count)
        chunk.labels.extend([None] * count)
    else:
        for score, label in predictions:
            chunk.scores.append(score)
            chunk.labels.append(label)
    if count == 1:
        chunk.event_ids.append(event_id)
        chunk.inference_ids.append(None if inference_id is None else str(inference_id))
        chunk.times.append(when)
        chunk.positions.append(0)
    else:
        chunk.event_ids.extend([event_id] * count)
        chunk.inference_ids.extend([None if inference_id is None else str(inference_id)] * count)
        chunk.times.extend([when] * count)
        chunk.positions.extend(range(count))
    return True


def _time(value: Any) -> str:
    """An ``inferenceTime`` in SageMaker's canonical form (parsed only when it is not)."""
    if type(value) is str and len(value) == 20 and value[19] == "Z" and value[10] == "T":
        return value
    return format_time(parse_time(value))


def _reason(line: bytes) -> str:
    """Why a JSON line is not a usable record (the strict parser's message)."""
    try:
        CaptureRecord.decode(line)
    except CaptureError as exc:
        return str(exc)
    return "the record's bodies cannot be used"
