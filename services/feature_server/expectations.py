"""A row-level validator compiled from a source's Great Expectations suite, for gated writes.

A push or write carries a few rows; Great Expectations needs seconds to import and tens of
milliseconds per batch, so the suite's row-level expectations are compiled into plain checks
here and run on the JSON columns before anything is written:

* ``expect_column_values_to_be_of_type`` and ``..._in_type_list``: every value converts to
  the type as the frame Feast writes holds it (JSON integers for ``int64``, numbers for
  floats, ISO 8601 strings for ``Timestamp``, strings for ``str``). A null passes, except in
  an integer column, and so does a float there (even ``3.0``): pandas would hold the column
  as floats.
* ``expect_column_values_to_not_be_null`` (None and NaN are null).
* ``expect_column_values_to_be_between`` (``min_value``, ``max_value``, ``strict_min``,
  ``strict_max``; nulls are skipped, a value that is not a number fails).
* ``expect_column_values_to_be_in_set`` (nulls are skipped).

An expectation on a column the batch lacks fails, as in the batch gate. Table-level
expectations (column sets, row counts, uniqueness, freshness) say nothing about single rows
and stay with the batch gate (``slipway features validate``); ``RowValidator.skipped`` lists
them. ``tests/unit/services/feature_server/test_expectations.py`` proves the verdicts equal
Great Expectations' own on the same rows. Suites are read as JSON here: this package does not
import ``feature_store.gate``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from services.errors import ServerConfigError

SUITES_DIR: Final = "expectations"
_SHOWN_ROWS: Final = 5

_INTEGERS: Final = frozenset({"int", "int8", "int16", "int32", "int64", "Int32", "Int64"})
_FLOATS: Final = frozenset({"float", "float16", "float32", "float64", "Float32", "Float64"})
_STAMPS: Final = frozenset({"Timestamp", "datetime64", "datetime64[ns]", "datetime64[ns, UTC]"})
_STRINGS: Final = frozenset({"str", "string", "StringDtype", "object"})
_BOOLS: Final = frozenset({"bool", "boolean", "BooleanDtype"})


def is_null(value: Any) -> bool:
    """None or NaN (what pandas counts as missing in these columns)."""
    return value is None or (type(value) is float and math.isnan(value))


def _is_integer(value: Any) -> bool:
    return type(value) is int  # a float, even 3.0, makes pandas hold the column as floats


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def _is_stamp(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _type_test(name: str) -> tuple[Callable[[Any], bool], bool] | None:
    """The per-value test of a GX type name and whether a null fails it."""
    if name in _INTEGERS:
        return _is_integer, True
    if name in _FLOATS:
        return _is_number, False
    if name in _STAMPS:
        return _is_stamp, False
    if name in _STRINGS:
        return (lambda v: type(v) is str), False
    if name in _BOOLS:
        return (lambda v: type(v) is bool), False
    return None


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed expectation: which, on which column, and the rows (0-based) that fail it.

    Attributes:
        expectation: The GX expectation type.
        column: Its column.
        rule: What it asks, in words (``between 0 and 1``).
        rows: Every failing row index.
        values: The values of the first failing rows (at most five).
        severity: The expectation's severity; only ``critical`` refuses the batch.
    """

    expectation: str
    column: str
    rule: str
    rows: tuple[int, ...]
    values: tuple[Any, ...]
    severity: str

    def describe(self) -> str:
        """One line: the expectation, its column and rule, and the first failing rows."""
        shown = ", ".join(
            f"row {r} ({_show(v)})" for r, v in zip(self.rows, self.values, strict=False)
        )
        more = f" and {len(self.rows) - _SHOWN_ROWS} more" if len(self.rows) > _SHOWN_ROWS else ""
        return f"{self.expectation}({self.column}: {self.rule}) fails at {shown}{more}"

    def to_json(self) -> dict[str, Any]:
        """The failure for an error body."""
        return {
            "expectation": self.expectation,
            "column": self.column,
            "rule": self.rule,
            "rows": list(self.rows),
            "values": [_show(v) for v in self.values],
            "severity": self.severity,
        }


def _show(value: Any) -> Any:
    if value is _ABSENT:
        return "(column missing)"
    if type(value) is float and not math.isfinite(value):
        return str(value)
    return value


_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class _Check:
    expectation: str
    column: str
    rule: str
    severity: str
    passes: Callable[[Any], bool]
    whole: Callable[[Sequence[Any]], bool] = field(default=lambda values: False)
    """A column-at-once test that is True only when every value passes (C-level work); when
    it says False, the values are checked one by one to name the failing rows."""

    def run(self, columns: Mapping[str, Sequence[Any]], rows: int) -> Failure | None:
        values = columns.get(self.column)
        if values is None:
            return Failure(
                self.expectation,
                self.column,
                self.rule,
                tuple(range(rows)),
                (_ABSENT,),
                self.severity,
            )
        if self.whole(values):
            return None
        passes = self.passes
        bad = [i for i, v in enumerate(values) if not passes(v)]
        if not bad:
            return None
        shown = tuple(values[i] for i in bad[:_SHOWN_ROWS])
        return Failure(self.expectation, self.column, self.rule, tuple(bad), shown, self.severity)


@dataclass(frozen=True, slots=True)
class RowValidator:
    """The compiled row-level checks of one suite.

    Attributes:
        suite: The suite name.
        checks: One check per row-level expectation, in suite order.
        skipped: The table-level expectation types left to the batch gate.
    """

    suite: str
    checks: tuple[_Check, ...]
    skipped: tuple[str, ...] = field(default=())

    def validate(self, columns: Mapping[str, Sequence[Any]], rows: int) -> list[Failure]:
        """Every failed expectation for these columns (``rows`` values each), suite order."""
        failures = []
        for check in self.checks:
            failure = check.run(columns, rows)
            if failure is not None:
                failures.append(failure)
        return failures


_NUMBERS: Final = frozenset({int, float})


def _no_nan(values: Sequence[Any]) -> bool:
    try:
        return not any(map(math.isnan, values))
    except TypeError:  # a value that is not a number
        return False


def _all_not_null(values: Sequence[Any]) -> bool:
    return None not in values and (float not in set(map(type, values)) or _no_nan(values))


def _whole_type(names: list[str]) -> Callable[[Sequence[Any]], bool]:
    """The column-at-once test of a type expectation (see ``_Check.whole``)."""
    if all(n in _INTEGERS for n in names):
        return lambda values: set(map(type, values)) == {int}
    if all(n in _FLOATS for n in names):
        return lambda values: set(map(type, values)) <= {int, float, type(None)}
    if all(n in _STRINGS for n in names):
        return lambda values: set(map(type, values)) <= {str, type(None)}
    if all(n in _STAMPS for n in names):

        def stamps(values: Sequence[Any]) -> bool:
            distinct = set(values)
            distinct.discard(None)
            return all(map(_is_stamp, distinct))

        return stamps
    return lambda values: False


def _between(kwargs: Mapping[str, Any]) -> tuple[Callable[[Any], bool], str]:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    strict_low, strict_high = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))
    for bound in (low, high):
        if bound is not None and not _is_number(bound):
            raise ValueError("min_value and max_value must be numbers or null")

    def passes(value: Any) -> bool:
        if is_null(value):
            return True
        if not _is_number(value) and type(value) is not bool:  # GX compares booleans as 0/1
            return False
        if low is not None and (value <= low if strict_low else value < low):
            return False
        return not (high is not None and (value >= high if strict_high else value > high))

    parts = []
    if low is not None:
        parts.append(f"{'>' if strict_low else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if strict_high else '<='} {high}")
    return passes, " and ".join(parts) or "any number"


def _check(exp: Mapping[str, Any]) -> _Check | None:
    """Compile one expectation; None when it is not row-level."""
    kind = str(exp.get("type", ""))
    kwargs = exp.get("kwargs") or {}
    column = kwargs.get("column")
    severity = str(exp.get("severity", "critical"))
    if not isinstance(column, str):
        return None
    passes: Callable[[Any], bool]
    if kind == "expect_column_values_to_not_be_null":
        return _Check(kind, column, "not null", severity, lambda v: not is_null(v), _all_not_null)
    if kind in ("expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"):
        names = [kwargs["type_"]] if "type_" in kwargs else list(kwargs.get("type_list") or [])
        tests = [_type_test(str(n)) for n in names]
        if not tests or any(t is None for t in tests):
            raise ValueError(f"type(s) {names} are not understood by the row validator")
        known = [t for t in tests if t is not None]

        def passes(value: Any) -> bool:
            if is_null(value):
                return not any(null_fails for _, null_fails in known)
            return any(test(value) for test, _ in known)

        rule = f"of type {' or '.join(map(str, names))}"
        return _Check(kind, column, rule, severity, passes, _whole_type([str(n) for n in names]))
    if kind == "expect_column_values_to_be_between":
        passes, rule = _between(kwargs)
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        strict = bool(kwargs.get("strict_min")) or bool(kwargs.get("strict_max"))

        def whole(values: Sequence[Any]) -> bool:
            if strict or not values or not set(map(type, values)) <= _NUMBERS:
                return False
            if not _no_nan(values):
                return False
            return (low is None or min(values) >= low) and (high is None or max(values) <= high)

        return _Check(kind, column, rule, severity, passes, whole)
    if kind == "expect_column_values_to_be_in_set":
        allowed = list(kwargs.get("value_set") or [])
        members = {json.dumps(v) for v in allowed}

        def passes(value: Any) -> bool:
            return is_null(value) or json.dumps(value) in members or value in allowed

        hashable = {v for v in allowed if not isinstance(v, list | dict)}

        def whole(values: Sequence[Any]) -> bool:
            kinds = set(map(type, values))
            if not kinds <= {str, int}:  # 1.0 == 1 and True == 1: checked one by one
                return False
            return set(values) <= hashable

        return _Check(kind, column, f"in {allowed}", severity, passes, whole)
    return None


def compile_suite(suite: Mapping[str, Any], *, label: str = "suite") -> RowValidator:
    """Compile a GX 1.x suite (a dict as in the suite file) into a ``RowValidator``.

    Raises:
        ServerConfigError: An expectation is malformed (the message names it and ``label``).
    """
    checks: list[_Check] = []
    skipped: list[str] = []
    for index, exp in enumerate(suite.get("expectations") or []):
        try:
            check = _check(exp)
        except (ValueError, TypeError, KeyError) as exc:
            raise ServerConfigError(
                f"{label}: expectations[{index}] ({exp.get('type')}): {exc}"
            ) from exc
        if check is None:
            skipped.append(str(exp.get("type")))
        else:
            checks.append(check)
    return RowValidator(str(suite.get("name", label)), tuple(checks), tuple(skipped))


def load_validator(repo_path: Path, source: str) -> RowValidator | None:
    """The validator of ``<repo>/expectations/<source>.json``; None when there is no suite.

    Raises:
        ServerConfigError: The suite file is unreadable, not JSON or malformed.
    """
    path = repo_path / SUITES_DIR / f"{source}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ServerConfigError(f"{path}: cannot read expectation suite") from exc
    try:
        suite = json.loads(text)
    except ValueError as exc:
        raise ServerConfigError(f"{path}: expectation suite is not JSON") from exc
    if not isinstance(suite, dict):
        raise ServerConfigError(f"{path}: expectation suite is not a JSON object")
    return compile_suite(suite, label=str(path))
