"""Column statistics in Model Monitor's ``statistics.json`` format.

For each column::

    {"name": ..., "inferred_type": "Integral" | "Fractional" | "String" | "Unknown",
     "numerical_statistics": {"common": {"num_present", "num_missing"}, "mean", "sum",
        "std_dev", "min", "max",
        "distribution": {"kll": {"buckets": [{"lower_bound", "upper_bound", "count"} x 10],
                                 "sketch": {"parameters": {...}, "data": [[quantiles]]}}}}}
    or "string_statistics": {"common": {...}, "distinct_count",
        "distribution": {"categorical": {"buckets": [{"value", "count"}, ...]}}}

What differs from Model Monitor, on purpose:

* The ``kll`` buckets are 10 equal-width buckets from min to max, as Model Monitor's are, but
  counted exactly. The ``sketch`` is not a KLL sketch: it holds the exact 101 quantiles (0%,
  1%, ..., 100%, numpy's linear interpolation), with ``parameters`` saying so. That is a
  quantile summary with rank error under 0.5%, deterministic, and small.
* ``std_dev`` is the population standard deviation (ddof 0), like Deequ's.
* Categorical buckets list at most :data:`MAX_CATEGORY_BUCKETS` values (most frequent first,
  ties by value); ``distinct_count`` is exact.

Values of the wrong type in a numeric column (text) are left out of the numeric statistics
and counted by the data type check instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from model_monitor.columns import InferredType, Schema

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

BUCKETS: Final = 10
QUANTILES: Final = 101
MAX_CATEGORY_BUCKETS: Final = 1000
SKETCH_PARAMETERS: Final = {"method": "exact_quantiles", "quantiles": QUANTILES}


def infer_type(values: pd.Series) -> InferredType:
    """Model Monitor's inferred type of a training column.

    Integer columns are Integral; float columns are Integral when every present value is a
    whole number, else Fractional; text (and booleans) is String; an all-missing column is
    Unknown.
    """
    import numpy as np
    import pandas as pd

    present = values.dropna()
    if present.empty:
        return InferredType.UNKNOWN
    if pd.api.types.is_bool_dtype(values.dtype):
        return InferredType.STRING
    if pd.api.types.is_integer_dtype(values.dtype):
        return InferredType.INTEGRAL
    if pd.api.types.is_float_dtype(values.dtype):
        floats = present.to_numpy(dtype=np.float64)
        finite = floats[np.isfinite(floats)]
        whole = bool(finite.size) and bool(np.all(finite == np.round(finite)))
        return InferredType.INTEGRAL if whole else InferredType.FRACTIONAL
    if any(isinstance(v, bool | np.bool_) for v in present):
        return InferredType.STRING
    if all(isinstance(v, int | float | np.number) for v in present):
        return infer_type(pd.to_numeric(present))
    return InferredType.STRING


def numbers(values: pd.Series) -> npt.NDArray[Any]:
    """The numeric values of a column as float64 (missing and non-numeric values are NaN)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    cells = values.to_numpy(dtype=object)
    keep = np.fromiter(
        (isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in cells),
        dtype=bool,
        count=len(cells),
    )
    out = np.full(len(cells), np.nan)
    out[keep] = cells[keep].astype(np.float64)
    return out


def texts(values: pd.Series) -> pd.Series:
    """The present values of a column as strings (missing values dropped)."""
    import pandas as pd

    present = values.dropna()
    if pd.api.types.infer_dtype(present, skipna=True) == "string":
        return present
    return present.map(str)


def compute_statistics(frame: pd.DataFrame, *, schema: Schema) -> dict[str, Any]:
    """``statistics.json`` of ``frame`` for the schema's columns present in it."""
    features = [
        column_statistics(frame[spec.name], name=spec.name, inferred_type=spec.inferred_type)
        for spec in schema.columns
        if spec.name in frame.columns
    ]
    return {"version": 0, "dataset": {"item_count": len(frame)}, "features": features}


def column_statistics(
    values: pd.Series, *, name: str, inferred_type: InferredType
) -> dict[str, Any]:
    """One column's entry in ``statistics.json``."""
    entry: dict[str, Any] = {"name": name, "inferred_type": inferred_type.value}
    if inferred_type.numeric:
        entry["numerical_statistics"] = _numerical(numbers(values))
    elif inferred_type is InferredType.STRING:
        entry["string_statistics"] = _strings(values)
    return entry


def _numerical(floats: npt.NDArray[Any]) -> dict[str, Any]:
    """Numeric statistics: counts, moments, range, buckets, quantiles."""
    import numpy as np

    present = floats[np.isfinite(floats)]
    common = {"num_present": int(present.size), "num_missing": int(floats.size - present.size)}
    if not present.size:
        return {
            "common": common,
            "mean": 0.0,
            "sum": 0.0,
            "std_dev": 0.0,
            "min": 0.0,
            "max": 0.0,
            "distribution": {"kll": {"buckets": [], "sketch": _sketch([])}},
        }
    low, high = float(present.min()), float(present.max())
    if high > low:
        edges = np.linspace(low, high, BUCKETS + 1)
        counts, _ = np.histogram(present, bins=edges)
        buckets = [
            {
                "lower_bound": float(edges[i]),
                "upper_bound": float(edges[i + 1]),
                "count": float(counts[i]),
            }
            for i in range(BUCKETS)
        ]
    else:
        buckets = [{"lower_bound": low, "upper_bound": high, "count": float(present.size)}]
    quantiles = np.quantile(present, np.linspace(0.0, 1.0, QUANTILES)).tolist()
    return {
        "common": common,
        "mean": float(present.mean()),
        "sum": float(present.sum()),
        "std_dev": float(present.std()),
        "min": low,
        "max": high,
        "distribution": {"kll": {"buckets": buckets, "sketch": _sketch(quantiles)}},
    }


def _sketch(quantiles: list[float]) -> dict[str, Any]:
    """The quantile summary stored where Model Monitor keeps its KLL sketch."""
    return {"parameters": dict(SKETCH_PARAMETERS), "data": [quantiles]}


def _strings(values: pd.Series) -> dict[str, Any]:
    """String statistics: counts, distinct count and the most frequent values."""
    present = texts(values)
    counts = present.value_counts(sort=False)
    ordered = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return {
        "common": {
            "num_present": len(present),
            "num_missing": len(values) - len(present),
        },
        "distinct_count": float(len(counts)),
        "distribution": {
            "categorical": {
                "buckets": [
                    {"value": str(value), "count": float(count)}
                    for value, count in ordered[:MAX_CATEGORY_BUCKETS]
                ]
            }
        },
    }


def feature_entry(statistics: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The entry for column ``name`` in a ``statistics.json`` document, if any."""
    for entry in statistics.get("features", []):
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None
