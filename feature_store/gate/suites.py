"""Locate and load expectation suites and the Parquet data they check.

A feature repo keeps one Great Expectations 1.x suite per data source in
``<repo>/expectations/<source>.json`` and the data in ``<repo>/data/<source>.parquet``; the
known sources are the suite file stems. Nothing here imports Great Expectations: suites are
checked structurally so that a broken file fails fast, with its path, before the slow GX import.

Slipway settings live in the suite's top-level ``meta``::

    {"slipway": {"max_staleness_hours": 48, "max_future_hours": 1}}

The gate turns them into run-time expectation parameters (see :func:`expectation_parameters`):
``freshness_cutoff`` (now minus the staleness) and ``future_cutoff`` (now plus the allowance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from feature_store.errors import DataFileError, SuiteError, UnknownSourceError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATA_DIR",
    "PARAMETERS",
    "SUITES_DIR",
    "GateSettings",
    "check_suite",
    "expectation_parameters",
    "gate_settings",
    "list_sources",
    "load_suite",
    "read_source_frame",
    "referenced_columns",
    "suite_path",
]

SUITES_DIR: Final = "expectations"
"""Folder of the feature repo holding ``<source>.json`` suites."""

DATA_DIR: Final = "data"
"""Folder of the feature repo holding ``<source>.parquet`` files."""

FRESHNESS_PARAMETER: Final = "freshness_cutoff"
FUTURE_PARAMETER: Final = "future_cutoff"
PARAMETERS: Final[dict[str, str]] = {
    FRESHNESS_PARAMETER: "max_staleness_hours",
    FUTURE_PARAMETER: "max_future_hours",
}
"""Run-time parameters the gate supplies, keyed to the ``meta.slipway`` setting they need."""

_SEVERITIES: Final = frozenset({"critical", "warning", "info"})


@dataclass(frozen=True)
class GateSettings:
    """Slipway settings read from a suite's ``meta.slipway``.

    Attributes:
        max_staleness_hours: The newest event may be at most this old; None turns the
            ``freshness_cutoff`` parameter off.
        max_future_hours: Events may be at most this far ahead of now; None turns the
            ``future_cutoff`` parameter off.
    """

    max_staleness_hours: float | None = None
    max_future_hours: float | None = None


def suite_path(*, repo_path: Path, source: str) -> Path:
    """Return where the suite of ``source`` lives (the file may not exist).

    Args:
        source: Data source name.

    Returns:
        ``<repo_path>/expectations/<source>.json``.
    """
    return repo_path / SUITES_DIR / f"{source}.json"


def list_sources(*, repo_path: Path) -> list[str]:
    """List the data sources that have an expectation suite.

    Returns:
        Sorted suite file stems; empty if the ``expectations`` folder is missing.
    """
    folder = repo_path / SUITES_DIR
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob("*.json") if path.is_file())


def load_suite(*, path: Path) -> dict[str, Any]:
    """Read and structurally check a Great Expectations 1.x suite JSON file.

    Args:
        path: The suite file.

    Returns:
        The suite as a dict, loadable with ``gx.ExpectationSuite(**suite)``.

    Raises:
        SuiteError: The file is missing or unreadable, is not JSON, or is not a GX 1.x suite
            (the message names the file and the offending field).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{path}: expectation suite not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read expectation suite: {exc}") from exc
    try:
        suite = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SuiteError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    return check_suite(suite, label=str(path))


def check_suite(suite: object, *, label: str) -> dict[str, Any]:
    """Check that a value is a GX 1.x suite dict whose Slipway settings fit its parameters.

    Args:
        suite: The parsed suite.
        label: How to name the suite in errors (its file, or the source).

    Returns:
        The suite, unchanged.

    Raises:
        SuiteError: The suite is malformed (the message starts with ``label``).
    """
    problem = _suite_problem(suite)
    if problem:
        raise SuiteError(f"{label}: not a Great Expectations 1.x suite: {problem}")
    assert isinstance(suite, dict)  # guaranteed by _suite_problem
    try:
        gate_settings(suite)
    except ValueError as exc:
        raise SuiteError(f"{label}: {exc}") from exc
    return suite


def gate_settings(suite: dict[str, Any]) -> GateSettings:
    """Read the Slipway settings of a suite and check they fit its parameters.

    Args:
        suite: A suite dict (as returned by :func:`load_suite`).

    Returns:
        The settings; all None when the suite has no ``meta.slipway``.

    Raises:
        ValueError: A setting is not a non-negative number, or an expectation uses a
            ``$PARAMETER`` the gate does not supply or whose setting is missing.
    """
    meta = suite.get("meta") or {}
    raw = meta.get("slipway") if isinstance(meta, dict) else None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ValueError("meta.slipway must be an object")
    values: dict[str, float | None] = {}
    for key in ("max_staleness_hours", "max_future_hours"):
        value = raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise ValueError(f"meta.slipway.{key} must be a non-negative number, got {value!r}")
        values[key] = None if value is None else float(value)
    settings = GateSettings(**values)
    for name in sorted(_parameter_names(suite.get("expectations", []))):
        if name not in PARAMETERS:
            raise ValueError(
                f"unknown $PARAMETER {name!r} (the gate supplies: {', '.join(PARAMETERS)})"
            )
        if getattr(settings, PARAMETERS[name]) is None:
            raise ValueError(f"$PARAMETER {name!r} needs meta.slipway.{PARAMETERS[name]}")
    return settings


def expectation_parameters(suite: dict[str, Any], *, now: datetime) -> dict[str, str]:
    """Compute the run-time ``$PARAMETER`` values of a suite.

    Args:
        suite: A suite dict with valid settings.
        now: The reference time; a naive value is taken to be UTC.

    Returns:
        ISO 8601 UTC timestamps keyed by parameter name (only those whose setting is set).
    """
    settings = gate_settings(suite)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    params: dict[str, str] = {}
    if settings.max_staleness_hours is not None:
        cutoff = now - timedelta(hours=settings.max_staleness_hours)
        params[FRESHNESS_PARAMETER] = cutoff.isoformat()
    if settings.max_future_hours is not None:
        params[FUTURE_PARAMETER] = (now + timedelta(hours=settings.max_future_hours)).isoformat()
    return params


def referenced_columns(expectation: dict[str, Any]) -> list[str]:
    """Return the data columns an expectation needs (table-level column lists excluded).

    Args:
        expectation: One entry of a suite's ``expectations``.

    Returns:
        Column names in the order the expectation names them.
    """
    kwargs = expectation.get("kwargs") or {}
    columns: list[str] = []
    for key in ("column", "column_A", "column_B"):
        if isinstance(kwargs.get(key), str):
            columns.append(kwargs[key])
    listed = kwargs.get("column_list")
    # expect_table_columns_to_match_ordered_list checks the schema, it does not read columns.
    if isinstance(listed, list) and not str(expectation.get("type", "")).startswith("expect_table"):
        columns.extend(str(column) for column in listed)
    return columns


def read_source_frame(*, repo_path: Path, source: str) -> pd.DataFrame:
    """Read the Parquet data of a source.

    Args:
        source: Data source name; must have a suite.

    Returns:
        The whole file as a DataFrame.

    Raises:
        UnknownSourceError: No suite exists for ``source`` (the message lists the known ones).
        DataFileError: The Parquet file is missing or cannot be read (the message names it).
    """
    known = list_sources(repo_path=repo_path)
    if source not in known:
        raise UnknownSourceError(
            f"unknown data source {source!r}; known sources: {', '.join(known) or '(none)'} "
            f"(suites in {repo_path / SUITES_DIR})"
        )
    path = repo_path / DATA_DIR / f"{source}.parquet"
    if not path.is_file():
        raise DataFileError(f"{path}: data file not found (generate or copy it first)")
    import pandas as pd
    import pyarrow as pa

    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataFileError(f"{path}: not a readable Parquet file: {exc}") from exc


def _suite_problem(suite: object) -> str | None:
    if not isinstance(suite, dict):
        return f"the top level is a JSON {type(suite).__name__}, not an object"
    if "expectation_suite_name" in suite or "data_asset_type" in suite:
        return "this is a 0.x suite (expectation_suite_name); re-create it with GX 1.x"
    if not isinstance(suite.get("name"), str) or not suite["name"]:
        return "missing a non-empty 'name'"
    expectations = suite.get("expectations")
    if not isinstance(expectations, list):
        return "missing the 'expectations' list"
    if not expectations:
        return "the suite has no expectations"
    for index, item in enumerate(expectations):
        where = f"expectations[{index}]"
        if not isinstance(item, dict):
            return f"{where} is not an object"
        if "expectation_type" in item:
            return f"{where} uses the 0.x key 'expectation_type'; GX 1.x uses 'type'"
        if not isinstance(item.get("type"), str) or not item["type"]:
            return f"{where} has no 'type'"
        if not isinstance(item.get("kwargs", {}), dict):
            return f"{where}.kwargs is not an object"
        severity = item.get("severity", "critical")
        if severity not in _SEVERITIES:
            return f"{where}.severity {severity!r} is not one of {', '.join(sorted(_SEVERITIES))}"
    if not isinstance(suite.get("meta") or {}, dict):
        return "'meta' is not an object"
    return None


def _parameter_names(value: object) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return {str(value["$PARAMETER"])}
        return {name for item in value.values() for name in _parameter_names(item)}
    if isinstance(value, list):
        return {name for item in value for name in _parameter_names(item)}
    return set()
