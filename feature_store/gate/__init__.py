"""The data gate: Great Expectations 1.x suites that stop bad data before Feast or training.

Every data source of the feature repo has a suite in ``<repo>/expectations/<source>.json``
(schema, dtypes, nulls, ranges and sets, key uniqueness, freshness, row count) and its data in
``<repo>/data/<source>.parquet``. :func:`validate_sources` checks them and returns one
:class:`SourceReport` per source; :func:`ensure_valid` raises
:class:`~feature_store.errors.ValidationFailedError` if a critical expectation failed, so nothing is
materialized or trained on. :func:`write_reports` keeps the GX results as JSON plus a Data Docs
site; ``slipway.views.gate`` draws them as a table.

Importing this package is cheap: Great Expectations (about five seconds to import) and ``rich``
are only imported when a validation or a report needs them.

Example:
    >>> reports = validate_sources(repo_path=Path("feature_repo"))  # doctest: +SKIP
    >>> ensure_valid(reports)  # doctest: +SKIP
"""

from feature_store.gate.report import (
    ExpectationOutcome,
    SourceReport,
    unexpected_text,
    write_reports,
)
from feature_store.gate.suites import list_sources, load_suite, read_source_frame
from feature_store.gate.validation import ensure_valid, validate_frame, validate_sources

__all__ = [
    "ExpectationOutcome",
    "SourceReport",
    "ensure_valid",
    "list_sources",
    "load_suite",
    "read_source_frame",
    "unexpected_text",
    "validate_frame",
    "validate_sources",
    "write_reports",
]
