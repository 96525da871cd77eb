"""The data-validation evidence for a plan comment: one line per source, failures listed.

The summary comes from the JSON results ``slipway data validate --report-dir DIR`` writes
(``<source>.json``, read without importing Great Expectations) or from
:class:`~feature_store.gate.SourceReport` objects of an in-process validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.errors import CiError
from feature_store.gate import ExpectationOutcome, SourceReport
from foundation.markdown import escape_text


@dataclass(frozen=True)
class SourceSummary:
    """The gate's verdict on one source.

    Attributes:
        source: Data source name.
        passed: Whether the gate passed (no failed critical expectation).
        rows: Rows validated, when known.
        evaluated: Expectations evaluated.
        succeeded: Expectations that held.
        failures: One line per failed critical expectation.
        warnings: One line per failed warning/info expectation.
    """

    source: str
    passed: bool
    rows: int | None
    evaluated: int
    succeeded: int
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def from_reports(reports: list[SourceReport]) -> list[SourceSummary]:
    """Summaries of in-process gate reports.

    Args:
        reports: Reports from ``feature_store.gate.validate_sources``.
    """
    return [
        SourceSummary(
            source=r.source,
            passed=r.success,
            rows=r.row_count,
            evaluated=len(r.outcomes),
            succeeded=sum(1 for o in r.outcomes if o.success),
            failures=tuple(r.failures()),
            warnings=tuple(r.warnings()),
        )
        for r in reports
    ]


def from_report_dir(directory: Path) -> list[SourceSummary]:
    """Summaries of the ``<source>.json`` results in a report folder.

    Args:
        directory: Folder written by ``slipway data validate --report-dir``.

    Returns:
        One summary per JSON result, by source name.

    Raises:
        CiError: The folder is missing, holds no results, or a file is not a GX result.
    """
    if not directory.is_dir():
        raise CiError(f"{directory}: no such validation report folder")
    summaries = [_from_raw(path) for path in sorted(directory.glob("*.json"))]
    if not summaries:
        raise CiError(f"{directory}: no validation results (<source>.json) found")
    return summaries


def gx_markdown(summaries: list[SourceSummary]) -> list[str]:
    """The "Data validation" section of a plan comment (pass/fail header, details collapsed).

    Returns:
        Markdown lines (empty when there is nothing to show).
    """
    if not summaries:
        return []
    failed = [s for s in summaries if not s.passed]
    verdict = (
        f"❌ {len(failed)} of {len(summaries)} source(s) fail the data gate"
        if failed
        else f"✅ all {len(summaries)} source(s) pass the data gate"
    )
    lines = [
        "#### Data validation (Great Expectations)",
        "",
        verdict,
        "",
        "<details><summary>Per source</summary>",
        "",
        "| Source | Gate | Rows | Expectations |",
        "|---|---|---:|---:|",
    ]
    for s in summaries:
        rows = "–" if s.rows is None else f"{s.rows:,}"
        gate = "✅ pass" if s.passed else "❌ fail"
        lines.append(f"| `{s.source}` | {gate} | {rows} | {s.succeeded}/{s.evaluated} |")
    for s in summaries:
        if s.failures or s.warnings:
            lines += ["", f"`{s.source}`:"]
            lines += [f"- ❌ {escape_text(line)}" for line in s.failures]
            lines += [f"- ⚠️ {escape_text(line)}" for line in s.warnings]
    return [*lines, "", "</details>", ""]


def _from_raw(path: Path) -> SourceSummary:
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        results = raw["results"]
        outcomes = [ExpectationOutcome.from_result(result) for result in results]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CiError(f"{path}: not a Great Expectations validation result") from exc
    meta = (raw.get("meta") or {}).get("slipway") or {}
    passed = meta.get("gate_passed")
    rows = meta.get("row_count")
    return SourceSummary(
        source=str(meta.get("source") or path.stem),
        passed=bool(passed) if passed is not None else not any(o.blocking for o in outcomes),
        rows=int(rows) if isinstance(rows, int) else None,
        evaluated=len(outcomes),
        succeeded=sum(1 for o in outcomes if o.success),
        failures=tuple(o.describe() for o in outcomes if o.blocking),
        warnings=tuple(o.describe() for o in outcomes if not o.success and not o.blocking),
    )
