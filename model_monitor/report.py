"""One monitoring run: checks, drift, quality, and the files a run leaves behind.

:func:`run_monitor` is what a command line or a scheduled job calls::

    window = load_window(files=capture_files(destination=..., endpoint=..., variant=..., since=...),
                         schema=baseline.schema, since=...)
    result = run_monitor(window=window, baseline=load_baseline(directory=folder), out_dir=out)

It writes into ``out_dir``:

* ``constraint_violations.json``: data quality and drift violations (Model Monitor's format);
* ``statistics.json``: the window's statistics (same format as the baseline's);
* ``model_quality_violations.json``: only when labels were given;
* ``summary.json``: :meth:`MonitorResult.to_json`, everything a renderer needs;
* ``report.html``: a self-contained page (inline CSS, no scripts, no network);
* ``drift.html``: Evidently's own report of the drift tests (self-contained; optional).

The result's ``status`` follows Model Monitor's execution statuses: ``Completed``,
``CompletedWithViolations``, or ``Failed`` with a ``failure_reason`` when there was nothing to
analyse (an empty window). Problems that did not stop the run are ``warnings``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.files import write_json_atomic, write_text_atomic
from model_monitor.baseline import Baseline
from model_monitor.capture import CaptureRecord
from model_monitor.columns import INFERENCE_TIME
from model_monitor.constraints import Constraints
from model_monitor.drift import DriftResult, detect_drift
from model_monitor.drift_config import DriftConfig
from model_monitor.errors import MonitorConfigError
from model_monitor.evidently_report import drift_report_html
from model_monitor.frame import CaptureWindow, frame_from_records
from model_monitor.quality import (
    QUALITY_VIOLATIONS_FILE,
    GroundTruthRecord,
    QualityResult,
    evaluate_quality,
)
from model_monitor.reader import ReadReport
from model_monitor.statistics import compute_statistics
from model_monitor.violations import (
    BASELINE_DRIFT,
    VIOLATIONS_FILE,
    Violation,
    check_constraints,
    write_violations,
)

if TYPE_CHECKING:
    import pandas as pd

COMPLETED: Final = "Completed"
COMPLETED_WITH_VIOLATIONS: Final = "CompletedWithViolations"
FAILED: Final = "Failed"
SUMMARY_FILE: Final = "summary.json"
STATISTICS_FILE: Final = "statistics.json"
HTML_FILE: Final = "report.html"
DRIFT_HTML_FILE: Final = "drift.html"


@dataclass(frozen=True)
class MonitorConfig:
    """Settings of a run beyond ``constraints.json``.

    Attributes:
        drift: Drift methods, thresholds and bounds
            (:class:`~model_monitor.drift_config.DriftConfig`).
        completeness_tolerance: Smallest completeness drop that is a violation (the
            allowance also grows with sampling noise; see :mod:`model_monitor.violations`).
        quality_tolerance: Largest absolute drop of a quality metric from its registered
            value that is not a violation.
        per_metric_tolerance: Overrides of ``quality_tolerance`` by metric name.
        min_labels: Fewer labelled rows than this: metrics are reported, not compared.
        evidently_html: Also save Evidently's drift report (``drift.html``, a few MB).
    """

    drift: DriftConfig = field(default_factory=DriftConfig)
    completeness_tolerance: float = 0.01
    quality_tolerance: float = 0.05
    per_metric_tolerance: Mapping[str, float] = field(default_factory=dict)
    min_labels: int = 30
    evidently_html: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.completeness_tolerance <= 1:
            raise MonitorConfigError("completeness_tolerance must be between 0 and 1")
        tolerances = (self.quality_tolerance, *self.per_metric_tolerance.values())
        if any(t < 0 for t in tolerances) or self.min_labels < 1:
            raise MonitorConfigError("quality tolerances must be >= 0 and min_labels >= 1")


@dataclass(frozen=True)
class WindowSummary:
    """What the analysed window held."""

    requests: int
    rows: int
    first: str | None
    last: str | None
    read: ReadReport

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON object."""
        return {
            "requests": self.requests,
            "rows": self.rows,
            "first_inference_time": self.first,
            "last_inference_time": self.last,
            "read": self.read.to_json(),
        }


@dataclass(frozen=True)
class MonitorResult:
    """The outcome of one run, ready to render (a CLI table, JSON, the HTML page)."""

    status: str
    window: WindowSummary
    violations: tuple[Violation, ...]
    drift: DriftResult | None
    quality: QualityResult | None
    warnings: tuple[str, ...]
    files: Mapping[str, Path]
    failure_reason: str | None = None

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        """Columns with a ``baseline_drift_check`` violation."""
        return tuple(
            v.feature_name for v in self.violations if v.constraint_check_type == BASELINE_DRIFT
        )

    @property
    def has_violations(self) -> bool:
        """Whether any data quality, drift or model quality violation was found."""
        return bool(self.violations) or bool(self.quality and self.quality.violations)

    def to_json(self) -> dict[str, Any]:
        """``summary.json``."""
        return {
            "status": self.status,
            "failure_reason": self.failure_reason,
            "window": self.window.to_json(),
            "violations": [v.to_json() for v in self.violations],
            "violation_counts": _counts(self.violations),
            "drifted_columns": list(self.drifted_columns),
            "drift": None if self.drift is None else self.drift.to_json(),
            "model_quality": None if self.quality is None else self.quality.to_json(),
            "warnings": list(self.warnings),
            "files": {name: str(path) for name, path in self.files.items()},
        }


def run_monitor(
    *,
    baseline: Baseline,
    out_dir: Path,
    window: CaptureWindow | None = None,
    frame: pd.DataFrame | None = None,
    records: Iterable[CaptureRecord] | None = None,
    constraints: Constraints | None = None,
    config: MonitorConfig | None = None,
    labels: Iterable[GroundTruthRecord] | None = None,
    registered_metrics: Mapping[str, float] | None = None,
) -> MonitorResult:
    """Analyse one window against a baseline and write the run's files into ``out_dir``.

    Args:
        baseline: The baseline (schema, statistics, constraints, reference sample).
        out_dir: Folder for the run's files (created if needed).
        window: A loaded capture window (:func:`model_monitor.frame.load_window`).
        frame: Or a monitoring frame (features, ``prediction``, ``predicted_label``...).
        records: Or capture records in memory.
        constraints: Constraints to check instead of the baseline's (e.g. edited by hand).
        config: Run settings (defaults: :class:`MonitorConfig`).
        labels: Ground-truth records; model quality is evaluated only when given.
        registered_metrics: The model's registered metrics, compared with the window's.

    Raises:
        MonitorConfigError: Not exactly one of ``window``, ``frame`` and ``records`` is given,
            or the drift config names an unknown column.
        OSError: ``out_dir`` cannot be written.
    """
    settings = config or MonitorConfig()
    checked = constraints or baseline.constraints
    given = [x for x in (window, frame, records) if x is not None]
    if len(given) != 1:
        raise MonitorConfigError("give exactly one of window, frame or records")
    if records is not None:
        window = frame_from_records(records, schema=baseline.schema)
    elif frame is not None:
        window = CaptureWindow(
            frame=frame, report=ReadReport(records=len(frame)), requests=len(frame)
        )
    assert window is not None  # exactly one input was checked above
    data = window.frame
    warnings = list(window.warnings())
    summary = _summary(window)
    files: dict[str, Path] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    if not len(data):
        files["violations"] = out_dir / VIOLATIONS_FILE
        write_violations(path=files["violations"], violations=[])
        result = MonitorResult(
            FAILED,
            summary,
            (),
            None,
            None,
            tuple(warnings),
            files,
            failure_reason="the capture window holds no rows to analyse",
        )
        return _finish(result, out_dir=out_dir, baseline=baseline, window=window)
    drift: DriftResult | None = None
    if checked.monitoring_config.perform_comparison:
        drift = detect_drift(
            data,
            reference=baseline.reference,
            schema=baseline.schema,
            config=settings.drift,
            num_distance_threshold=checked.monitoring_config.comparison_threshold,
            cat_distance_threshold=checked.monitoring_config.categorical_comparison_threshold,
        )
        warnings.extend(drift.warnings)
    violations = check_constraints(
        data,
        constraints=checked,
        drift=drift,
        completeness_tolerance=settings.completeness_tolerance,
    )
    quality: QualityResult | None = None
    if labels is not None:
        quality = evaluate_quality(
            data,
            labels=labels,
            task=baseline.schema.task,
            registered=registered_metrics,
            tolerance=settings.quality_tolerance,
            per_metric=settings.per_metric_tolerance,
            min_labels=settings.min_labels,
        )
        warnings.extend(quality.warnings)
    files["violations"] = out_dir / VIOLATIONS_FILE
    write_violations(path=files["violations"], violations=violations)
    files["statistics"] = out_dir / STATISTICS_FILE
    write_json_atomic(files["statistics"], compute_statistics(data, schema=baseline.schema))
    if quality is not None:
        files["model_quality_violations"] = out_dir / QUALITY_VIOLATIONS_FILE
        write_json_atomic(
            files["model_quality_violations"],
            {"violations": [v.to_json() for v in quality.violations]},
        )
    if drift is not None and drift.columns and settings.evidently_html:
        files["drift_html"] = out_dir / DRIFT_HTML_FILE
        drift_report_html(
            current=data,
            reference=baseline.reference,
            schema=baseline.schema,
            result=drift,
            path=files["drift_html"],
            config=settings.drift,
        )
    bad = bool(violations) or bool(quality and quality.violations)
    result = MonitorResult(
        COMPLETED_WITH_VIOLATIONS if bad else COMPLETED,
        summary,
        tuple(violations),
        drift,
        quality,
        tuple(warnings),
        files,
    )
    return _finish(result, out_dir=out_dir, baseline=baseline, window=window)


def _finish(
    result: MonitorResult,
    *,
    out_dir: Path,
    baseline: Baseline,
    window: CaptureWindow,
) -> MonitorResult:
    """Write ``report.html`` and ``summary.json`` and return the result naming them."""
    from model_monitor.html import render_report

    files = dict(result.files)
    files["html"] = out_dir / HTML_FILE
    files["summary"] = out_dir / SUMMARY_FILE
    final = MonitorResult(
        result.status,
        result.window,
        result.violations,
        result.drift,
        result.quality,
        result.warnings,
        files,
        result.failure_reason,
    )
    write_text_atomic(files["html"], render_report(final, baseline=baseline, frame=window.frame))
    write_json_atomic(files["summary"], final.to_json())
    return final


def _summary(window: CaptureWindow) -> WindowSummary:
    """Counts and time span of a window."""
    times = window.frame[INFERENCE_TIME] if INFERENCE_TIME in window.frame.columns else None
    present = times.dropna() if times is not None else None
    first = str(present.min()) if present is not None and len(present) else None
    last = str(present.max()) if present is not None and len(present) else None
    return WindowSummary(window.requests, window.rows, first, last, window.report)


def _counts(violations: Iterable[Violation]) -> dict[str, int]:
    """Violations by check type."""
    counts: dict[str, int] = {}
    for violation in violations:
        counts[violation.constraint_check_type] = counts.get(violation.constraint_check_type, 0) + 1
    return counts
