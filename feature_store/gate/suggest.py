"""A starter expectation suite from a sample of a data source, for a person to review and commit.

What a sample can tell is written as expectations: the exact column set, a non-empty table, each
column's type, no nulls where the sample has none (a ``mostly`` bound where it has some), the
observed range of numbers and times (widened by a margin), the observed set of a low-cardinality
column, uniqueness of key columns, and freshness of the event timestamp (``$PARAMETER`` bounds the
gate fills in at validation time, as in the checked-in suites). Schema, types and nulls are
``critical``; ranges and sets are ``warning`` until someone confirms them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from feature_store.gate.suites import FRESHNESS_PARAMETER, FUTURE_PARAMETER

if TYPE_CHECKING:
    import pandas as pd

#: Columns with at most this many distinct values in the sample get an "in set" expectation.
MAX_SET_SIZE: Final = 20
#: Observed numeric ranges are widened by this share of their width on both sides.
RANGE_MARGIN: Final = 0.1


@dataclass(frozen=True)
class SuggestOptions:
    """Choices a person makes about a suggested suite.

    ``keys`` are unique columns (found by name and sample when None: an ``*_id``/``id`` column
    whose sampled values are all distinct); ``timestamp`` is the event time column (found when
    None: ``event_timestamp``, else the only datetime column).
    """

    keys: tuple[str, ...] | None = None
    timestamp: str | None = None
    max_staleness_hours: float = 48.0
    max_future_hours: float = 1.0
    sample_rows: int = 100_000
    seed: int = 0
    categorical: tuple[str, ...] = field(default_factory=tuple)


def suggest_suite(
    frame: pd.DataFrame, *, source: str, options: SuggestOptions | None = None
) -> dict[str, Any]:
    """A GX 1.x suite (as JSON) describing ``frame``; raises ``ValueError`` on an empty frame."""
    import pandas as pd

    options = options or SuggestOptions()
    if frame.empty:
        raise ValueError(f"{source}: the data has no rows; a suite cannot be suggested from it")
    sample = (
        frame.sample(n=options.sample_rows, random_state=options.seed)
        if len(frame) > options.sample_rows
        else frame
    )
    timestamp = options.timestamp or _timestamp_column(sample)
    keys = options.keys if options.keys is not None else _key_columns(sample)
    expectations: list[dict[str, Any]] = [
        _expect(
            "expect_table_columns_to_match_set",
            {"column_set": [str(c) for c in sample.columns], "exact_match": True},
            notes="schema: exactly these columns, in any order",
        ),
        _expect(
            "expect_table_row_count_to_be_between",
            {"min_value": 1, "max_value": None},
            notes="row count: the batch is not empty",
        ),
    ]
    for column in sample.columns:
        series = sample[column]
        name = str(column)
        expectations.append(
            _expect("expect_column_values_to_be_of_type", {"column": name, "type_": _type(series)})
        )
        expectations.append(_nulls(name, series))
        if name in keys:
            expectations.append(
                _expect(
                    "expect_column_values_to_be_unique",
                    {"column": name},
                    notes="key: one row per value",
                )
            )
            continue
        if name == timestamp:
            continue
        observed = series.dropna()
        if observed.empty:
            continue
        low_cardinality = observed.nunique() <= MAX_SET_SIZE
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if name in options.categorical or (low_cardinality and not _is_float(series)):
            values = sorted(_plain(v) for v in observed.unique())
            expectations.append(
                _expect(
                    "expect_column_values_to_be_in_set",
                    {"column": name, "value_set": values},
                    severity="warning",
                    notes="the values seen in the sample: review before relying on it",
                )
            )
        elif numeric:
            expectations.append(_range(name, observed))
    if timestamp is not None:
        expectations.extend(_freshness(timestamp, options))
    return {
        "name": source,
        "meta": {
            "description": f"Starter suite for {source}, suggested from {len(sample):,} sampled "
            f"rows of {len(frame):,}: review every range and set before committing.",
            "slipway": {
                "max_staleness_hours": options.max_staleness_hours,
                "max_future_hours": options.max_future_hours,
            },
        },
        "notes": None,
        "expectations": expectations,
    }


def _expect(
    kind: str, kwargs: dict[str, Any], *, severity: str = "critical", notes: str | None = None
) -> dict[str, Any]:
    expectation: dict[str, Any] = {"type": kind, "kwargs": kwargs, "severity": severity, "meta": {}}
    if notes:
        expectation["notes"] = notes
    return expectation


def _nulls(column: str, series: pd.Series) -> dict[str, Any]:
    share = float(series.notna().mean())
    if share == 1.0:
        return _expect("expect_column_values_to_not_be_null", {"column": column})
    mostly = max(0.0, round(share - 0.05, 2))
    return _expect(
        "expect_column_values_to_not_be_null",
        {"column": column, "mostly": mostly},
        severity="warning",
        notes=f"{share:.1%} of sampled values are present",
    )


def _range(column: str, observed: pd.Series) -> dict[str, Any]:
    low, high = float(observed.min()), float(observed.max())
    margin = (high - low) * RANGE_MARGIN
    integral = _is_integral(observed)
    lower = low - margin if low < 0 or low - margin >= 0 else 0.0
    bounds = (lower, high + margin)
    if integral:
        bounds = (float(math.floor(bounds[0])), float(math.ceil(bounds[1])))
    return _expect(
        "expect_column_values_to_be_between",
        {
            "column": column,
            "min_value": _number(bounds[0], integral=integral),
            "max_value": _number(bounds[1], integral=integral),
        },
        severity="warning",
        notes=f"observed {low:g} to {high:g}, widened by {RANGE_MARGIN:.0%}: review",
    )


def _freshness(column: str, options: SuggestOptions) -> list[dict[str, Any]]:
    return [
        _expect(
            "expect_column_max_to_be_between",
            {"column": column, "min_value": {"$PARAMETER": FRESHNESS_PARAMETER}, "max_value": None},
            notes=f"freshness: newest event no older than {options.max_staleness_hours:g} h "
            "before now",
        ),
        _expect(
            "expect_column_max_to_be_between",
            {"column": column, "min_value": None, "max_value": {"$PARAMETER": FUTURE_PARAMETER}},
            severity="warning",
            notes=f"no events more than {options.max_future_hours:g} h in the future",
        ),
    ]


def _type(series: pd.Series) -> str:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return "Timestamp"
    return str(series.dtype)


def _timestamp_column(frame: pd.DataFrame) -> str | None:
    import pandas as pd

    if "event_timestamp" in frame.columns:
        return "event_timestamp"
    times = [str(c) for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    return times[0] if len(times) == 1 else None


def _key_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    candidates = [str(c) for c in frame.columns if str(c) == "id" or str(c).endswith("_id")]
    return tuple(c for c in candidates if frame[c].notna().all() and frame[c].is_unique)


def _is_float(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_float_dtype(series))


def _is_integral(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_integer_dtype(series))


def _number(value: float, *, integral: bool) -> int | float:
    return int(value) if integral else round(value, 6)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if hasattr(value, "item") else value
