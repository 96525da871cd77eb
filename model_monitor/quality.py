"""Model quality: ground-truth labels joined with captured predictions, metrics, comparison.

Ground-truth records are SageMaker's (JSON Lines, one per labelled request)::

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<the capture's inferenceId, or its eventId>"},
     "eventVersion": "0"}

A label joins the captured request whose ``inferenceId`` equals its ``eventId`` or, for
requests sent without an inference id, whose ``eventId`` does (SageMaker's rule). ``data``
holds one label per row of the request (CSV lines or fields, or a JSON value or list).

Metrics are scikit-learn's on the joined rows: classification (binary, positive class 1):
``roc_auc``, ``log_loss``, ``accuracy``, ``precision``, ``recall``, ``f1``; regression:
``rmse``, ``mae``, ``mse``, ``r2``. :func:`compare_metrics` checks them against the registered
ones within a tolerance, producing Model Monitor's model quality violations
(``LessThanThreshold`` for a metric that should be high, ``GreaterThanThreshold`` for one that
should be low).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from foundation.metrics import direction
from model_monitor.capture import EVENT_VERSION
from model_monitor.columns import EVENT_ID, INFERENCE_ID, PREDICTED_LABEL, PREDICTION, ROW, Task
from model_monitor.errors import CaptureError
from model_monitor.reader import ReadReport

if TYPE_CHECKING:
    import pandas as pd

LABEL: Final = "_label"
QUALITY_VIOLATIONS_FILE: Final = "model_quality_violations.json"


@dataclass(frozen=True)
class GroundTruthRecord:
    """One ground-truth record: the labels of one captured request."""

    event_id: str
    data: str
    encoding: str = "CSV"
    event_version: str = EVENT_VERSION

    @classmethod
    def of(cls, event_id: str, labels: Any) -> GroundTruthRecord:
        """A record for ``labels`` (one value, or a list for a multi-row request), as CSV."""
        values = labels if isinstance(labels, list | tuple) else [labels]
        return cls(event_id=event_id, data="\n".join(str(v) for v in values), encoding="CSV")

    def to_json(self) -> dict[str, Any]:
        """The record as SageMaker's JSON object."""
        return {
            "groundTruthData": {"data": self.data, "encoding": self.encoding},
            "eventMetadata": {"eventId": self.event_id},
            "eventVersion": self.event_version,
        }

    def encode(self) -> bytes:
        """The record as one JSON line (with its newline)."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_APPEND_NEWLINE)

    @classmethod
    def from_json(cls, doc: Any) -> GroundTruthRecord:
        """Parse a record object.

        Raises:
            CaptureError: ``groundTruthData.data`` or ``eventMetadata.eventId`` is missing.
        """
        if not isinstance(doc, dict):
            raise CaptureError("a ground-truth record must be a JSON object")
        data, meta = doc.get("groundTruthData"), doc.get("eventMetadata")
        if not isinstance(data, dict) or not isinstance(data.get("data"), str):
            raise CaptureError("groundTruthData.data is missing")
        if not isinstance(meta, dict) or not isinstance(meta.get("eventId"), str):
            raise CaptureError("eventMetadata.eventId is missing")
        return cls(
            event_id=meta["eventId"],
            data=data["data"],
            encoding=str(data.get("encoding", "CSV")).upper(),
            event_version=str(doc.get("eventVersion", EVENT_VERSION)),
        )

    def labels(self) -> list[Any]:
        """The labels, one per request row (numbers where they parse).

        Raises:
            CaptureError: JSON data that does not parse, or an unknown encoding.
        """
        if self.encoding == "JSON":
            try:
                value = orjson.loads(self.data)
            except orjson.JSONDecodeError:
                raise CaptureError("groundTruthData.data is not valid JSON") from None
            return list(value) if isinstance(value, list) else [value]
        if self.encoding != "CSV":
            raise CaptureError(f"unsupported ground-truth encoding {self.encoding!r}")
        cells = [c.strip() for line in self.data.splitlines() for c in line.split(",")]
        return [_number(c) for c in cells if c]


def read_ground_truth(
    *, files: Sequence[Path], report: ReadReport | None = None
) -> list[GroundTruthRecord]:
    """Read ground-truth JSON Lines files; bad lines are counted in ``report``, never raised.

    Raises:
        OSError: A file cannot be read.
    """
    counts = report if report is not None else ReadReport()
    found: list[GroundTruthRecord] = []
    for path in files:
        counts.files += 1
        lines = path.read_bytes().split(b"\n")
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            counts.lines += 1
            try:
                found.append(GroundTruthRecord.from_json(orjson.loads(line)))
            except (orjson.JSONDecodeError, CaptureError) as exc:
                reason = "not JSON" if isinstance(exc, orjson.JSONDecodeError) else str(exc)
                counts.corrupt(path, number + 1, reason, truncated=number == len(lines) - 1)
                continue
            counts.records += 1
    return found


@dataclass(frozen=True)
class LabelJoin:
    """Captured rows joined with their labels.

    Attributes:
        frame: The labelled rows (the capture frame's columns plus :data:`LABEL`).
        records: Ground-truth records given.
        matched: Records that found their request.
        unmatched: Records whose ``eventId`` matches no captured request in the window.
        mismatched: Records whose label count differs from the request's row count, or
            whose data does not parse.
    """

    frame: pd.DataFrame
    records: int
    matched: int
    unmatched: int
    mismatched: int

    def warnings(self) -> list[str]:
        """One sentence per problem met."""
        found = []
        if self.unmatched:
            found.append(f"{self.unmatched} ground-truth records match no captured request")
        if self.mismatched:
            found.append(
                f"{self.mismatched} ground-truth records hold unreadable labels or a label "
                "count that differs from their request's rows (skipped)"
            )
        return found


def join_labels(frame: pd.DataFrame, records: Iterable[GroundTruthRecord]) -> LabelJoin:
    """Join ground truth to captured rows by ``inferenceId``, else ``eventId``."""
    import numpy as np
    import pandas as pd

    given_records = list(records)
    wanted = {r.event_id for r in given_records}
    keys = frame[INFERENCE_ID].where(frame[INFERENCE_ID].notna(), frame[EVENT_ID]).astype(str)
    candidates = np.flatnonzero(keys.isin(wanted).to_numpy())
    groups: dict[str, list[int]] = {}
    for position, key in zip(candidates.tolist(), keys.to_numpy()[candidates], strict=True):
        groups.setdefault(key, []).append(position)
    positions: list[int] = []
    labels: list[Any] = []
    given = matched = unmatched = mismatched = 0
    rows = frame[ROW].to_numpy()
    for record in given_records:
        given += 1
        members = groups.get(record.event_id)
        if members is None:
            unmatched += 1
            continue
        try:
            values = record.labels()
        except CaptureError:
            mismatched += 1
            continue
        if len(values) != len(members):
            mismatched += 1
            continue
        matched += 1
        ordered = sorted(members, key=lambda p: int(rows[p]))
        positions.extend(ordered)
        labels.extend(values)
    joined = frame.iloc[positions].reset_index(drop=True)
    joined[LABEL] = pd.Series(labels, dtype=object)
    return LabelJoin(joined, given, matched, unmatched, mismatched)


def quality_metrics(
    labels: Sequence[Any], *, scores: Sequence[Any], predicted: Sequence[Any] | None, task: Task
) -> tuple[dict[str, float], list[str]]:
    """The task's metrics on rows that have a label and a prediction, and why any is absent.

    Returns:
        The metrics by name, and warnings (e.g. ``roc_auc`` needs both classes).
    """
    import numpy as np
    from sklearn import metrics

    warnings: list[str] = []
    truth = np.asarray([float(v) if _is_number(v) else np.nan for v in labels], dtype=np.float64)
    score = np.asarray([float(v) if _is_number(v) else np.nan for v in scores], dtype=np.float64)
    keep = np.isfinite(truth) & np.isfinite(score)
    if int(keep.sum()) < len(truth):
        warnings.append(
            f"{len(truth) - int(keep.sum())} labelled rows lack a numeric label or score (left out)"
        )
    truth, score = truth[keep], score[keep]
    if not truth.size:
        return {}, [*warnings, "no labelled rows with a prediction: no quality metrics"]
    if task is Task.REGRESSION:
        mse = float(metrics.mean_squared_error(truth, score))
        found = {
            "rmse": math.sqrt(mse),
            "mse": mse,
            "mae": float(metrics.mean_absolute_error(truth, score)),
        }
        if truth.size >= 2:
            found["r2"] = float(metrics.r2_score(truth, score))
        return found, warnings
    if not set(np.unique(truth)) <= {0.0, 1.0}:
        return {}, [*warnings, "classification labels must be 0 or 1: no quality metrics"]
    classes = truth.astype(np.int64)
    chosen = np.asarray(
        [float(v) if _is_number(v) else np.nan for v in predicted or [None] * len(keep)]
    )[keep]
    guessed = int((~np.isfinite(chosen)).sum())
    if guessed:
        warnings.append(
            f"{guessed} labelled rows have no predicted class: it is taken as score >= 0.5"
        )
    label_int = np.where(np.isfinite(chosen), chosen, (score >= 0.5)).astype(np.int64)
    found = {
        "accuracy": float(metrics.accuracy_score(classes, label_int)),
        "precision": float(metrics.precision_score(classes, label_int, zero_division=0)),
        "recall": float(metrics.recall_score(classes, label_int, zero_division=0)),
        "f1": float(metrics.f1_score(classes, label_int, zero_division=0)),
        "log_loss": float(metrics.log_loss(classes, score, labels=[0, 1])),
    }
    if len(set(classes.tolist())) == 2:
        found["roc_auc"] = float(metrics.roc_auc_score(classes, score))
    else:
        warnings.append("roc_auc needs labels of both classes: not computed")
    return found, warnings


@dataclass(frozen=True)
class QualityViolation:
    """One model quality violation, in Model Monitor's form."""

    metric_name: str
    constraint_check_type: str
    description: str

    def to_json(self) -> dict[str, str]:
        """The violation object."""
        return {
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
            "metric_name": self.metric_name,
        }


def compare_metrics(
    current: Mapping[str, float],
    registered: Mapping[str, float],
    *,
    tolerance: float = 0.05,
    per_metric: Mapping[str, float] | None = None,
) -> list[QualityViolation]:
    """Metrics worse than the registered value by more than the (absolute) tolerance.

    Which way is worse comes from the metric registry (:mod:`foundation.metrics`); a metric
    without a direction there (``mse``, residual quantiles) is not compared.
    """
    found: list[QualityViolation] = []
    for name in sorted(current.keys() & registered.keys()):
        allowed = (per_metric or {}).get(name, tolerance)
        now, then = float(current[name]), float(registered[name])
        better = direction(name)
        if better == "higher" and now < then - allowed:
            check, bound = "LessThanThreshold", then - allowed
        elif better == "lower" and now > then + allowed:
            check, bound = "GreaterThanThreshold", then + allowed
        else:
            continue
        found.append(
            QualityViolation(
                name,
                check,
                f"Metric {name} with {now:.6g} was {check} '{bound:.6g}' "
                f"(registered {then:.6g}, tolerance {allowed:g})",
            )
        )
    return found


@dataclass(frozen=True)
class QualityResult:
    """A window's model quality."""

    task: Task
    labelled_rows: int
    metrics: Mapping[str, float]
    registered: Mapping[str, float]
    violations: tuple[QualityViolation, ...]
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return {
            "task": self.task.value,
            "labelled_rows": self.labelled_rows,
            "metrics": dict(self.metrics),
            "registered": dict(self.registered),
            "violations": [v.to_json() for v in self.violations],
            "warnings": list(self.warnings),
        }


def evaluate_quality(
    frame: pd.DataFrame,
    *,
    labels: Iterable[GroundTruthRecord],
    task: Task,
    registered: Mapping[str, float] | None = None,
    tolerance: float = 0.05,
    per_metric: Mapping[str, float] | None = None,
    min_labels: int = 30,
) -> QualityResult:
    """Join labels, compute the metrics and compare them with the registered ones.

    With fewer than ``min_labels`` labelled rows the metrics are reported but not compared; a
    frame without the capture metadata or prediction columns cannot be joined (a warning says
    so).
    """
    needed = [c for c in (EVENT_ID, INFERENCE_ID, ROW, PREDICTION) if c not in frame.columns]
    if needed:
        problem = f"labels cannot be joined: the frame has no {', '.join(needed)} column"
        return QualityResult(task, 0, {}, dict(registered or {}), (), (problem,))
    joined = join_labels(frame, labels)
    warnings = joined.warnings()
    rows = joined.frame
    predicted = rows[PREDICTED_LABEL].tolist() if PREDICTED_LABEL in rows.columns else None
    found, problems = quality_metrics(
        rows[LABEL].tolist(), scores=rows[PREDICTION].tolist(), predicted=predicted, task=task
    )
    warnings.extend(problems)
    violations: list[QualityViolation] = []
    if registered and len(rows) >= min_labels:
        violations = compare_metrics(found, registered, tolerance=tolerance, per_metric=per_metric)
    elif registered:
        warnings.append(f"{len(rows)} labelled rows, fewer than {min_labels}: metrics not compared")
    return QualityResult(
        task, len(rows), found, dict(registered or {}), tuple(violations), tuple(warnings)
    )


def _number(text: str) -> Any:
    """A label cell: an int or float when it parses, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _is_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (booleans count as 0/1)."""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return True
    return isinstance(value, int | float | np.number) and bool(np.isfinite(value))
