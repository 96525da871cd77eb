"""Request bodies to model input: JSON (three shapes) and headerless CSV, strictly validated.

Accepted JSON shapes (``application/json``):

* ``{"instances": [{"conv_rate": 0.5, ...}, ...]}``: records (SageMaker / TF-serving row format);
  rows may also be arrays of values in the feature order.
* ``{"inputs": {"conv_rate": [0.5, ...], ...}}``: columns (TF-serving columnar format).
* ``[{"conv_rate": 0.5, ...}, ...]``: a bare list of records.

CSV (``text/csv``): one row per line in the bundle's feature order, no header (SageMaker's
convention); a first line that exactly equals the feature names is accepted and skipped.

Numbers must be JSON numbers (booleans and numeric strings are refused); categories must be
strings. ``null`` (JSON) or an empty field (CSV) is a missing value: NaN for numbers, ``None``
for categories; whether the model can score it is up to the model.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from services.inference.errors import RequestError, bad_request, unprocessable
from services.inference.schema import FeatureKind, FeatureSchema

Locate = Callable[[int], str]
"""Describes where row ``i`` of one feature is in the request, e.g. ``instances[3].rating``."""

_NUMBER_TYPES: Final = frozenset({int, float, type(None)})
_STRING_TYPES: Final = frozenset({str, type(None)})
_SHAPES: Final = (
    'expected {"instances": [{feature: value, ...}, ...]}, '
    '{"inputs": {feature: [values...], ...}} or a list of records'
)


@dataclass(frozen=True)
class Batch:
    """Validated model input.

    Attributes:
        columns: One array per feature, in the schema's feature order (float64 for numbers,
            object holding ``str | None`` for categories).
        rows: Number of rows.
    """

    columns: tuple[npt.NDArray[Any], ...]
    rows: int


def parse_json(body: bytes, *, schema: FeatureSchema) -> Batch:
    """Parse and validate a JSON request body.

    Args:
        body: The raw body (UTF-8 JSON).
        schema: The model's input contract.

    Returns:
        The batch.

    Raises:
        RequestError: 400 for malformed JSON; 422 for an empty input, an unknown shape,
            missing or unexpected features, or a value of the wrong type.
    """
    if not body.strip():
        raise unprocessable("the request body is empty", code="empty_input")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request("the request body is not valid JSON", code="malformed_json") from None
    if isinstance(doc, list):
        return _rows(doc, where="", schema=schema)
    if isinstance(doc, dict):
        if "instances" in doc and "inputs" in doc:
            raise unprocessable('give either "instances" or "inputs", not both', code="bad_shape")
        if "instances" in doc:
            return _rows(doc["instances"], where="instances", schema=schema)
        if "inputs" in doc:
            inputs = doc["inputs"]
            if isinstance(inputs, dict):
                return _columns(inputs, schema=schema)
            return _rows(inputs, where="inputs", schema=schema)
        if doc.keys() & schema.feature_set:
            raise unprocessable(
                'a single record must be wrapped: {"instances": [record]}', code="bad_shape"
            )
    raise unprocessable(f"unsupported JSON shape: {_SHAPES}", code="bad_shape")


def parse_csv(body: bytes, *, schema: FeatureSchema) -> Batch:
    """Parse and validate a CSV request body (rows in the feature order, optional exact header).

    Args:
        body: The raw body (UTF-8 CSV, optionally with a byte order mark).
        schema: The model's input contract.

    Returns:
        The batch.

    Raises:
        RequestError: 400 for undecodable CSV, a header that is not exactly the feature list,
            or a row with the wrong number of columns; 422 for an empty input or a value of the
            wrong type.
    """
    if not body.strip():
        raise unprocessable("the request body is empty", code="empty_input")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bad_request("the CSV body is not valid UTF-8", code="malformed_csv") from None
    reader = csv.reader(io.StringIO(text))
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error:
        raise bad_request(
            f"the CSV body is malformed near line {reader.line_num}", code="malformed_csv"
        ) from None
    features = schema.features
    if rows and any(cell.strip() in schema.feature_set for cell in rows[0]):
        _check_header([cell.strip() for cell in rows[0]], schema=schema)
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise unprocessable("the CSV body has no data rows", code="empty_input")
    width = len(features)
    for line, row in zip(lines, rows, strict=True):
        if len(row) != width:
            raise bad_request(
                f"CSV line {line} has {len(row)} columns, expected {width} in this order: "
                f"{', '.join(features)}",
                code="csv_columns",
                line=line,
                columns=len(row),
                expected_count=width,
                expected_order=list(features),
            )
    columns: list[npt.NDArray[Any]] = []
    for position, (feature, values) in enumerate(
        zip(features, zip(*rows, strict=True), strict=True)
    ):
        locate = _csv_cell(lines, column=position + 1, feature=feature)
        if schema.kinds[feature] is FeatureKind.NUMBER:
            columns.append(_csv_numbers(values, feature=feature, locate=locate))
        else:
            cells = [v.strip() or None for v in values]
            columns.append(_categories(cells, feature=feature, schema=schema, locate=locate))
    return Batch(columns=tuple(columns), rows=len(rows))


def _path(prefix: str, suffix: str) -> Locate:
    """Locate row ``i`` as ``<prefix>[i]<suffix>``, e.g. ``instances[3].rating``."""

    def locate(row: int) -> str:
        return f"{prefix}[{row}]{suffix}"

    return locate


def _csv_cell(lines: list[int], *, column: int, feature: str) -> Locate:
    """Locate row ``i`` of a CSV column as its line and column numbers."""

    def locate(row: int) -> str:
        return f"CSV line {lines[row]}, column {column} ({feature})"

    return locate


def _check_header(header: list[str], *, schema: FeatureSchema) -> None:
    """Accept a header equal to the feature list; refuse any other header (400)."""
    features = list(schema.features)
    if header == features:
        return
    missing = [f for f in features if f not in header]
    unexpected = [h for h in header if h not in schema.feature_set]
    problem = (
        "lists the features in a different order"
        if not missing and not unexpected and len(header) == len(features)
        else f"does not match the model's features (missing: {', '.join(missing) or '-'}; "
        f"unexpected: {', '.join(unexpected) or '-'})"
    )
    raise bad_request(
        f"the CSV header {problem}; expected {len(features)} columns in this order: "
        f"{', '.join(features)}",
        code="csv_header",
        missing=missing,
        unexpected=unexpected,
        expected_order=features,
    )


def _rows(rows: Any, *, where: str, schema: FeatureSchema) -> Batch:
    """Validate a list of records (or of value arrays in the feature order)."""
    if not isinstance(rows, list):
        raise unprocessable(f"{where or 'the body'} must be a list of rows", code="bad_shape")
    if not rows:
        raise unprocessable(f"{where or 'the body'} holds no rows", code="empty_input")
    features = schema.features
    if isinstance(rows[0], list):
        return _arrays(rows, where=where, schema=schema)
    expected = schema.feature_set
    for i, row in enumerate(rows):
        if type(row) is not dict:
            raise unprocessable(
                f"{where}[{i}] must be an object of feature values", code="bad_shape", row=i
            )
        if row.keys() != expected:
            raise _mismatch(row.keys(), where=f"{where}[{i}]", schema=schema, row=i)
    columns = [
        _convert(
            [row[f] for row in rows],
            feature=f,
            schema=schema,
            locate=_path(where, f".{f}"),
        )
        for f in features
    ]
    return Batch(columns=tuple(columns), rows=len(rows))


def _arrays(rows: list[Any], *, where: str, schema: FeatureSchema) -> Batch:
    """Validate rows given as arrays of values in the feature order."""
    features = schema.features
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise unprocessable(
                f"{where}[{i}] must be an array like the first row", code="bad_shape", row=i
            )
        if len(row) != len(features):
            raise unprocessable(
                f"{where}[{i}] has {len(row)} values, expected {len(features)} in this order: "
                f"{', '.join(features)}",
                code="feature_mismatch",
                row=i,
                expected=list(features),
            )
    columns = [
        _convert(
            list(values),
            feature=f,
            schema=schema,
            locate=_path(where, f"[{j}] ({f})"),
        )
        for j, (f, values) in enumerate(zip(features, zip(*rows, strict=True), strict=True))
    ]
    return Batch(columns=tuple(columns), rows=len(rows))


def _columns(inputs: dict[str, Any], *, schema: FeatureSchema) -> Batch:
    """Validate columnar inputs: ``{feature: [values...]}``."""
    if inputs.keys() != schema.feature_set:
        raise _mismatch(inputs.keys(), where="inputs", schema=schema, row=None)
    for name, values in inputs.items():
        if not isinstance(values, list):
            raise unprocessable(
                f"inputs.{name} must be a list of values", code="bad_shape", feature=name
            )
    lengths = {name: len(values) for name, values in inputs.items()}
    if len(set(lengths.values())) != 1:
        raise unprocessable(
            "every inputs column must hold the same number of values", code="bad_shape", **lengths
        )
    rows = next(iter(lengths.values()))
    if rows == 0:
        raise unprocessable("inputs holds no rows", code="empty_input")
    columns = [
        _convert(
            inputs[f],
            feature=f,
            schema=schema,
            locate=_path(f"inputs.{f}", ""),
        )
        for f in schema.features
    ]
    return Batch(columns=tuple(columns), rows=rows)


def _mismatch(keys: Any, *, where: str, schema: FeatureSchema, row: int | None) -> RequestError:
    """Build the 422 naming the missing and unexpected features."""
    missing = [f for f in schema.features if f not in keys]
    unexpected = sorted(str(k) for k in keys if k not in schema.feature_set)
    return unprocessable(
        f"{where}: the features do not match the model (missing: {', '.join(missing) or '-'}; "
        f"unexpected: {', '.join(unexpected) or '-'})",
        code="feature_mismatch",
        row=row,
        missing=missing,
        unexpected=unexpected,
        expected=list(schema.features),
    )


def _convert(
    values: Sequence[Any], *, feature: str, schema: FeatureSchema, locate: Locate
) -> npt.NDArray[Any]:
    """Type-check one JSON column and turn it into an array."""
    types = set(map(type, values))
    if schema.kinds[feature] is FeatureKind.NUMBER:
        if types <= _NUMBER_TYPES:
            return np.array(values, dtype=np.float64)  # None becomes NaN
        row = next(i for i, v in enumerate(values) if type(v) not in _NUMBER_TYPES)
        raise _wrong_type(values[row], expected="a number", feature=feature, row=row, at=locate)
    if not types <= _STRING_TYPES:
        row = next(i for i, v in enumerate(values) if type(v) not in _STRING_TYPES)
        raise _wrong_type(values[row], expected="a string", feature=feature, row=row, at=locate)
    return _categories(values, feature=feature, schema=schema, locate=locate)


def _categories(
    values: Sequence[str | None], *, feature: str, schema: FeatureSchema, locate: Locate
) -> npt.NDArray[Any]:
    """Check category values against the allowed set (if the encoder has one)."""
    allowed = schema.categories.get(feature)
    if allowed is not None and not set(values) <= allowed:
        row = next(i for i, v in enumerate(values) if v not in allowed)
        known = ", ".join(sorted(v for v in allowed if v is not None))
        raise unprocessable(
            f"{locate(row)}: unknown category {_category(values[row])}, expected one of: {known}",
            code="invalid_value",
            row=row,
            feature=feature,
        )
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _csv_numbers(values: Sequence[str], *, feature: str, locate: Locate) -> npt.NDArray[Any]:
    """Parse one CSV column of numbers; empty fields are missing (NaN)."""
    try:
        array = np.array(values, dtype=np.float64)
    except ValueError:
        parsed: list[float] = []
        for row, value in enumerate(values):
            text = value.strip()
            try:
                parsed.append(float(text) if text else float("nan"))
            except ValueError:
                raise _wrong_type(
                    value, expected="a number", feature=feature, row=row, at=locate
                ) from None
        array = np.array(parsed, dtype=np.float64)
    infinite = np.isinf(array)
    if infinite.any():
        row = int(np.argmax(infinite))
        raise _wrong_type(
            values[row], expected="a finite number", feature=feature, row=row, at=locate
        )
    return array


def _wrong_type(value: Any, *, expected: str, feature: str, row: int, at: Locate) -> RequestError:
    """Build the 422 for a value of the wrong type."""
    return unprocessable(
        f"{at(row)}: expected {expected}, got {_show(value)}",
        code="invalid_value",
        row=row,
        feature=feature,
    )


def _category(value: str | None) -> str:
    """Render a category value for a message."""
    return "null (missing)" if value is None else repr(value[:40])


def _show(value: Any) -> str:
    """Describe a rejected value briefly (type and a truncated rendering)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"string {text!r}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    return "an object" if isinstance(value, dict) else "an array"
