"""Step 1, validate: the Great Expectations data gate on every source the model reads.

The sources are the entity/label source (``trips``) plus the batch sources behind the feature
service's views (see :func:`model_build.pipeline.steps.training_set.describe_feature_service`).
Nothing is trained on data that fails a critical expectation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feature_store.gate import SourceReport


@dataclass(frozen=True)
class ValidationResult:
    """The data gate's verdict on the sources of one build.

    Attributes:
        sources: Sources validated, in order.
        reports: One report per source.
        seconds: Wall time of the validation (including the GX import).
    """

    sources: list[str]
    reports: list[SourceReport]
    seconds: float

    @property
    def passed(self) -> bool:
        """True when no source failed a critical expectation."""
        return all(report.success for report in self.reports)

    def summary(self) -> dict[str, Any]:
        """Plain-JSON summary: per source, rows, verdict, failures and warnings."""
        return {
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "sources": {
                report.source: {
                    "success": report.success,
                    "rows": report.row_count,
                    "failures": report.failures(),
                    "warnings": report.warnings(),
                }
                for report in self.reports
            },
        }


def validate_data(
    *, repo_path: Path, sources: list[str], now: datetime | None = None
) -> ValidationResult:
    """Validate the sources' data against their expectation suites; raise if any fails.

    ``repo_path`` holds ``expectations/`` and ``data/``; duplicate ``sources`` are dropped (order
    kept); ``now`` is the reference time of the freshness expectations (the current time when
    None). Returns the reports, all passing (warnings may be present).

    Raises:
        ValidationFailedError: A critical expectation failed; the message names the source
            and the expectations.
        UnknownSourceError: A source has no suite.
        DataFileError: A source's data file is missing or unreadable.
    """
    from feature_store.gate import ensure_valid, validate_sources

    wanted = list(dict.fromkeys(sources))
    started = time.perf_counter()
    reports = validate_sources(repo_path=repo_path, sources=wanted, now=now)
    result = ValidationResult(
        sources=wanted, reports=reports, seconds=time.perf_counter() - started
    )
    ensure_valid(reports)
    return result
