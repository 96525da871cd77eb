"""The push path's row validator against Great Expectations' own verdicts on the same rows.

Random batches (valid rows, then nulls, out-of-range values, values outside a set, wrong
types and unparsable timestamps mixed in) are checked by ``RowValidator`` on the JSON columns
and by Great Expectations (``feature_store.gate.validate_frame``, the batch gate) on the frame
Feast writes from them: each column typed as the suite declares it where its values allow
(``float32``, ``int64``, UTC timestamps), left as Python objects where they do not. Every
row-level expectation must get the same verdict, and the same count of failing rows.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.feature_server.expectations import (
    RowValidator,
    compile_suite,
    is_null,
    load_validator,
)

ROOT = Path(__file__).resolve().parents[4]
SUITES = ROOT / "feature_repo" / "expectations"
ROW_LEVEL = {
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
}
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _suite(name: str) -> dict[str, Any]:
    suite: dict[str, Any] = json.loads((SUITES / f"{name}.json").read_text())
    return suite


def _good(column: str, kind: str, rng: random.Random, row: int) -> Any:
    if kind == "Timestamp":
        return (NOW - timedelta(hours=row + 1)).isoformat()
    if kind == "int64":
        keys = {"driver_id": 1000 + row, "customer_id": 200 + row, "trip_id": row}
        return keys.get(column, rng.choice([0, 1]) if column == "label" else rng.randint(0, 20))
    if kind in ("float32", "float64"):
        return 2.5 if column in ("rating", "avg_passenger_count") else rng.choice([0.5, 0.25])
    return rng.choice(["standard", "plus", "business"])


def _bad(kind: str, rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.3:
        return None
    if pick < 0.35:
        return math.nan
    if kind == "Timestamp":
        return rng.choice(["yesterday", "2026-13-01T00:00:00", 1.5])
    if kind == "str":
        return rng.choice(["gold", 7, ""])
    return rng.choice([-5, 1e6, 250, 2.5, "x", True])


def _batch(
    suite: dict[str, Any], rng: random.Random, rows: int, bad_rate: float
) -> dict[str, list[Any]]:
    types: dict[str, str] = {}
    for exp in suite["expectations"]:
        kwargs = exp["kwargs"]
        if exp["type"] == "expect_column_values_to_be_of_type":
            types[kwargs["column"]] = kwargs["type_"]
        elif exp["type"] == "expect_column_values_to_be_in_type_list":
            types[kwargs["column"]] = "str"
    columns: dict[str, list[Any]] = {}
    for column, kind in types.items():
        columns[column] = [
            _bad(kind, rng) if rng.random() < bad_rate else _good(column, kind, rng, r)
            for r in range(rows)
        ]
    return columns


def _typed_frame(columns: dict[str, list[Any]], suite: dict[str, Any]) -> Any:
    """The frame as Feast holds it: a column typed as declared where every value allows."""
    import numpy as np
    import pandas as pd

    declared = {
        e["kwargs"]["column"]: e["kwargs"]["type_"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_of_type"
    }
    data: dict[str, Any] = {}
    for column, values in columns.items():
        kind = declared.get(column)
        numbers = all(is_null(v) or type(v) in (int, float) for v in values)
        if kind in ("float32", "float64") and numbers:
            data[column] = pd.Series([np.nan if v is None else v for v in values], dtype=kind)
        elif kind == "int64" and all(type(v) is int for v in values):
            data[column] = pd.Series(values, dtype="int64")
        elif kind == "int64" and numbers:
            data[column] = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
        elif kind == "Timestamp" and all(
            is_null(v) or (type(v) is str and _iso(v)) for v in values
        ):
            data[column] = pd.to_datetime(
                pd.Series([None if is_null(v) else v for v in values]), utc=True
            )
        else:
            data[column] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _ours(
    validator: RowValidator, columns: dict[str, list[Any]], rows: int
) -> list[tuple[str, str, bool, int]]:
    out = []
    for check in validator.checks:
        failure = check.run(columns, rows)
        out.append(
            (
                check.expectation,
                check.column,
                failure is None,
                0 if failure is None else len(failure.rows),
            )
        )
    return out


def test_the_suites_compile_with_every_row_level_expectation() -> None:
    for path in sorted(SUITES.glob("*.json")):
        validator = load_validator(SUITES.parent, path.stem)
        assert validator is not None
        suite = json.loads(path.read_text())
        row_level = [e for e in suite["expectations"] if e["type"] in ROW_LEVEL]
        assert len(validator.checks) == len(row_level), path.name
        assert set(validator.skipped) == {
            e["type"] for e in suite["expectations"] if e["type"] not in ROW_LEVEL
        }


def test_a_missing_suite_is_none_and_a_bad_one_names_the_expectation(tmp_path: Path) -> None:
    from services.errors import ServerConfigError

    assert load_validator(tmp_path, "nope") is None
    odd = {"column": "a", "type_": "complex128"}
    bad = {
        "name": "x",
        "expectations": [{"type": "expect_column_values_to_be_of_type", "kwargs": odd}],
    }
    with pytest.raises(ServerConfigError, match=r"expectations\[0\]"):
        compile_suite(bad, label="x.json")


def test_failures_name_rows_and_values() -> None:
    validator = compile_suite(_suite("driver_hourly_stats"))
    rng = random.Random(1)
    columns = _batch(_suite("driver_hourly_stats"), rng, 100, 0.0)
    columns["conv_rate"][37] = 1.7
    failures = validator.validate(columns, 100)
    assert [(f.expectation, f.column, f.rows, f.values) for f in failures] == [
        ("expect_column_values_to_be_between", "conv_rate", (37,), (1.7,))
    ]
    assert "row 37 (1.7)" in failures[0].describe()


@pytest.mark.slow
@pytest.mark.parametrize("source", ["driver_hourly_stats", "customer_profile", "trips"])
def test_verdicts_equal_great_expectations(source: str) -> None:
    from feature_store.gate import validate_frame

    suite = _suite(source)
    validator = compile_suite(suite)
    rng = random.Random(hash(source) % 1000)
    failing = 0
    for batch in range(8):
        rows = rng.randint(1, 30)
        columns = _batch(suite, rng, rows, 0.0 if batch == 0 else rng.choice([0.02, 0.1, 0.3]))
        report = validate_frame(
            source=source, frame=_typed_frame(columns, suite), suite=suite, now=NOW
        )
        gx = [
            (o.expectation, o.column, o.success, o.unexpected_count)
            for o in report.outcomes
            if o.expectation in ROW_LEVEL
        ]
        ours = _ours(validator, columns, rows)
        assert [g[:3] for g in gx] == [o[:3] for o in ours], (
            batch,
            {
                k: v
                for k, v in columns.items()
                if k in {g[1] for g, o in zip(gx, ours, strict=False) if g[2] != o[2]}
            },
        )
        for g, o in zip(gx, ours, strict=True):
            if g[3] is not None and g[0] != "expect_column_values_to_be_of_type":
                assert g[3] == o[3], (g, o, columns[o[1]])
        failing += sum(not o[2] for o in ours)
    assert failing > 0  # the batches did exercise failures
