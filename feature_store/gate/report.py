"""Gate reports: outcome types, the pass/fail decision, JSON and Data Docs files.

Great Expectations is imported inside the functions that need it; tables for people are drawn
by the CLI (``slipway.views.gate``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from feature_store.errors import FeatureStoreError

__all__ = [
    "DOCS_DIR",
    "ExpectationOutcome",
    "SourceReport",
    "unexpected_text",
    "write_reports",
]

DOCS_DIR: Final = "data_docs"
"""Folder under the report directory that receives the Data Docs site."""

_MAX_TEXT: Final = 80


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation on one source.

    Attributes:
        expectation: GX expectation type, e.g. ``expect_column_values_to_not_be_null``.
        column: The column checked, ``"a, b"`` for several, None for table-level checks.
        success: Whether the expectation held.
        unexpected_count: Rows that broke a row-level expectation (None for aggregates).
        unexpected_percent: Those rows as a percentage of the non-null rows.
        observed: Short text: the observed value, sample offending values or the error.
        severity: ``critical`` (fails the gate), ``warning`` or ``info``.
    """

    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    unexpected_percent: float | None
    observed: str | None
    severity: str

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> ExpectationOutcome:
        """Summarize one entry of a GX validation result's ``results`` (as a JSON dict).

        Args:
            result: An ``ExpectationValidationResult`` as a dict.

        Returns:
            The outcome.
        """
        config = result.get("expectation_config") or {}
        kwargs = config.get("kwargs") or {}
        expectation = str(config.get("type", "?"))
        columns = [kwargs[key] for key in ("column", "column_A", "column_B") if kwargs.get(key)]
        if not columns and not expectation.startswith("expect_table"):
            columns = list(kwargs.get("column_list") or [])
        details = result.get("result") or {}
        count = details.get("unexpected_count")
        percent = details.get("unexpected_percent")
        return cls(
            expectation=expectation,
            column=", ".join(str(c) for c in columns) or None,
            success=bool(result.get("success")),
            unexpected_count=None if count is None else int(count),
            unexpected_percent=None if percent is None else float(percent),
            observed=_observed(result),
            severity=str(config.get("severity") or "critical"),
        )

    @property
    def blocking(self) -> bool:
        """Whether this outcome fails the gate (a failed critical expectation)."""
        return not self.success and self.severity == "critical"

    def describe(self) -> str:
        """One readable line, e.g. ``expect_x(conv_rate): 3 unexpected (0.1%), e.g. 1.5``.

        Returns:
            The expectation, its column and what was found.
        """
        target = f"({self.column})" if self.column else ""
        if self.unexpected_count:
            detail = f"{self.unexpected_count} unexpected ({_percent(self.unexpected_percent)})"
            if self.observed:
                detail += f", e.g. {self.observed}"
        elif self.observed and self.observed.startswith(("error:", "not run:")):
            detail = self.observed
        elif self.observed:
            detail = f"observed {self.observed}"
        else:
            detail = "passed" if self.success else "failed"
        return f"{self.expectation}{target}: {detail}"


@dataclass(frozen=True)
class SourceReport:
    """The gate's verdict on one data source.

    Attributes:
        source: Data source name.
        success: False if any critical expectation failed.
        row_count: Rows validated.
        outcomes: One outcome per expectation, in suite order.
        seconds: Wall time of the validation.
        raw: The GX validation result as a JSON dict (``meta.slipway`` adds the gate verdict).
    """

    source: str
    success: bool
    row_count: int
    outcomes: list[ExpectationOutcome]
    seconds: float
    raw: dict[str, Any]

    def failures(self) -> list[str]:
        """Describe the failed critical expectations, the ones that fail the gate.

        Returns:
            One line per failure, e.g.
            ``expect_column_values_to_not_be_null(conv_rate): 3 unexpected (0.1%)``.
        """
        return [outcome.describe() for outcome in self.outcomes if outcome.blocking]

    def warnings(self) -> list[str]:
        """One line per failed warning/info expectation (reported, not gating)."""
        return [o.describe() for o in self.outcomes if not o.success and not o.blocking]

    def to_json(self) -> dict[str, Any]:
        """The verdict for scripts: counts, failures, warnings and every outcome (no GX dump)."""
        return {
            "source": self.source,
            "success": self.success,
            "row_count": self.row_count,
            "seconds": self.seconds,
            "failures": self.failures(),
            "warnings": self.warnings(),
            "outcomes": [asdict(outcome) for outcome in self.outcomes],
        }


def write_reports(*, reports: list[SourceReport], out_dir: Path) -> dict[str, Path]:
    """Write each GX validation result as JSON and build Great Expectations Data Docs.

    The Data Docs site is built by a file-mode GX context in a temporary folder and copied to
    ``<out_dir>/data_docs`` (replacing an earlier copy), so nothing else is left behind.

    Args:
        reports: Gate reports.
        out_dir: Report folder; created if missing.

    Returns:
        ``{<source>: <out_dir>/<source>.json, ..., "data_docs": <out_dir>/data_docs/index.html}``
        (no ``data_docs`` entry when ``reports`` is empty).

    Raises:
        FeatureStoreError: A file cannot be written or Great Expectations cannot build the docs.
    """
    written: dict[str, Path] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for report in reports:
            path = out_dir / f"{report.source}.json"
            path.write_text(json.dumps(report.raw, indent=2, default=str) + "\n", encoding="utf-8")
            written[report.source] = path
        if reports:
            written["data_docs"] = _build_data_docs(reports, out_dir / DOCS_DIR)
    except OSError as exc:
        raise FeatureStoreError(f"{out_dir}: cannot write validation reports: {exc}") from exc
    return written


def _build_data_docs(reports: list[SourceReport], target: Path) -> Path:
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.exceptions import GreatExpectationsError

    schema = ExpectationSuiteValidationResultSchema()
    with tempfile.TemporaryDirectory(prefix="slipway-data-docs-") as tmp:
        try:
            context = gx.get_context(mode="file", project_root_dir=tmp)
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            for report in reports:
                result = schema.load(report.raw)
                run = (report.raw.get("meta") or {}).get("run_id") or {}
                run_id = RunIdentifier(run_name=run.get("run_name"), run_time=run.get("run_time"))
                key = ValidationResultIdentifier(
                    expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
                    run_id=run_id,
                    batch_identifier=report.source,
                )
                context.validation_results_store.set(key, result)
            context.build_data_docs()
        except (GreatExpectationsError, ValueError, KeyError) as exc:
            raise FeatureStoreError(f"cannot build Great Expectations Data Docs: {exc}") from exc
        site = Path(tmp) / "gx" / "uncommitted" / "data_docs" / "local_site"
        if not (site / "index.html").is_file():
            raise FeatureStoreError(f"Great Expectations built no Data Docs index in {site}")
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(site, target)
    return target / "index.html"


def unexpected_text(outcome: ExpectationOutcome) -> str:
    """How many rows failed the expectation, e.g. ``12 (0.4%)``; empty when not counted."""
    if outcome.unexpected_count is None:
        return ""
    return f"{outcome.unexpected_count:,} ({_percent(outcome.unexpected_percent)})"


def _observed(result: dict[str, Any]) -> str | None:
    config = result.get("expectation_config") or {}
    error = _error_message(result.get("exception_info") or {})
    if error:
        return _short(error if error.startswith("not run:") else f"error: {error}")
    details = result.get("result") or {}
    mismatched = (details.get("details") or {}).get("mismatched")
    if isinstance(mismatched, dict) and mismatched:
        return _short("; ".join(f"{k}: {_text(v)}" for k, v in sorted(mismatched.items())))
    if "observed_value" in details:
        observed = _text(details["observed_value"])
        expected = None if result.get("success") else _expected(config.get("kwargs") or {})
        return _short(f"{observed} (expected {expected})" if expected else observed)
    sample = [value for value in details.get("partial_unexpected_list") or [] if value is not None]
    return _short(_text(sample[:3])) if sample else None


def _expected(kwargs: dict[str, Any]) -> str | None:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None or high is not None:
        if low is not None and high is not None:
            return f"{_text(low)} to {_text(high)}"
        return f">= {_text(low)}" if low is not None else f"<= {_text(high)}"
    if kwargs.get("type_"):
        return str(kwargs["type_"])
    if kwargs.get("type_list"):
        return " or ".join(str(t) for t in kwargs["type_list"])
    return None


def _error_message(info: dict[str, Any]) -> str | None:
    if "raised_exception" in info:
        message = info.get("exception_message") if info.get("raised_exception") else None
        return str(message).strip().splitlines()[0] if message else None
    for nested in info.values():  # {metric id: {exception_message, ...}} when a metric failed
        if isinstance(nested, dict) and (message := _error_message(nested)):
            return message
    return None


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _percent(value: float | None) -> str:
    if value is None:
        return "?%"
    if value == 0 or value >= 0.1:
        return f"{value:.1f}%"
    return "<0.1%"
