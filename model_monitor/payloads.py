"""Captured bodies to rows: request bodies to feature rows, response bodies to predictions.

Request bodies (``endpointInput``):

* JSON ``{"instances": [row, ...]}``, ``{"inputs": {feature: [values...]}}``,
  ``{"inputs": [row, ...]}``, a bare list of rows, or one object of feature values (one row). A
  row is an object ``{feature: value}`` or an array of values in the feature order.
* CSV: one row per line in the feature order, no header (a first line equal to the feature
  names is skipped). Fields of numeric features are parsed as numbers (a field that is not a
  number is kept as text, for the data type check); an empty field is missing.

Fields past the known features are named ``_c<position>`` (Model Monitor's name for unnamed
CSV columns) and kept as text, so they surface as extra columns.

Response bodies (``endpointOutput``): JSON ``{"predictions": [...]}`` or a bare list, whose
items are numbers (the score) or objects with a score key (:data:`SCORE_KEYS`) and a label key
(:data:`LABEL_KEYS`), or a multiclass object ``{"probabilities": {class: p}, "label": l}``; or
CSV lines ``score[,label]`` or, with more than two fields, a multiclass ``label,p_1,...,p_K``. A
multiclass answer's score is its top-class probability (what its baseline records).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Collection, Iterable
from typing import Any, Final

import orjson

from model_monitor.errors import CaptureError

SCORE_KEYS: Final = ("probability", "score", "prediction", "predicted_value", "value")
LABEL_KEYS: Final = ("label", "predicted_label", "class")

Row = dict[str, Any]
Prediction = tuple[Any, Any]
"""``(score, label)`` of one row; either may be None."""


class PayloadError(CaptureError):
    """A captured body cannot be turned into rows; the message says why."""


def input_rows(
    data: str,
    encoding: str,
    content_type: str,
    *,
    features: tuple[str, ...],
    numeric: Collection[str],
) -> list[Row]:
    """The feature rows of one captured request body.

    Raises:
        PayloadError: The body is not valid JSON or CSV, or has an unknown shape.
    """
    text, is_json = _text(data, encoding, content_type)
    if not is_json:
        return _csv_rows(text, features=features, numeric=numeric)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise PayloadError("the captured input is not valid JSON") from None
    if isinstance(doc, dict):
        if "instances" in doc:
            doc = doc["instances"]
        elif "inputs" in doc:
            doc = doc["inputs"]
            if isinstance(doc, dict):
                return _columnar(doc)
        else:
            return [doc]
    if not isinstance(doc, list):
        raise PayloadError("the captured input holds no list of rows")
    if doc and type(doc[0]) is dict and all(type(row) is dict for row in doc):
        return doc
    return [_row(row, features=features) for row in doc]


def output_predictions(data: str, encoding: str, content_type: str) -> list[Prediction]:
    """The ``(score, label)`` pairs of one captured response body, in row order.

    Raises:
        PayloadError: The body is not valid JSON or CSV, or an item has no score or label.
    """
    text, is_json = _text(data, encoding, content_type)
    if not is_json:
        return [_csv_prediction(line) for line in text.splitlines() if line.strip()]
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise PayloadError("the captured output is not valid JSON") from None
    if isinstance(doc, dict):
        doc = doc.get("predictions", doc.get("outputs"))
    if not isinstance(doc, list):
        raise PayloadError('the captured output holds no "predictions" list')
    return [_json_prediction(item) for item in doc]


def _text(data: str, encoding: str, content_type: str) -> tuple[str, bool]:
    """The body as text and whether it is JSON (decided by encoding, then content type)."""
    if encoding == "JSON":
        return data, True
    if encoding == "CSV":
        return data, False
    if encoding != "BASE64":
        raise PayloadError(f"unknown capture encoding {encoding!r}")
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise PayloadError("the captured body is not base64 of UTF-8 text") from None
    media = content_type.split(";", 1)[0].strip().lower()
    if "csv" in media:
        return text, False
    if "json" in media:
        return text, True
    return text, text.lstrip()[:1] in ("{", "[")


def _row(row: Any, *, features: tuple[str, ...]) -> Row:
    """One row given as an array of values in the feature order (or an object)."""
    if type(row) is dict:
        return row
    if not isinstance(row, list):
        raise PayloadError("a captured row is neither an object nor an array")
    named = dict(zip(features, row, strict=False))
    for position in range(len(features), len(row)):
        named[f"_c{position}"] = row[position]
    return named


def _columnar(inputs: dict[str, Any]) -> list[Row]:
    """``{"inputs": {feature: [values...]}}`` to rows."""
    columns = list(inputs.items())
    if not all(isinstance(values, list) for _, values in columns):
        raise PayloadError("captured inputs columns must be lists")
    lengths = {len(values) for _, values in columns}
    if len(lengths) > 1:
        raise PayloadError("captured inputs columns differ in length")
    count = lengths.pop() if lengths else 0
    return [{name: values[i] for name, values in columns} for i in range(count)]


def _csv_rows(text: str, *, features: tuple[str, ...], numeric: Collection[str]) -> list[Row]:
    """CSV lines to rows (numbers parsed for numeric features)."""
    if '"' in text:
        try:
            lines = [row for row in csv.reader(io.StringIO(text)) if row]
        except csv.Error:
            raise PayloadError("the captured CSV is malformed") from None
    else:
        lines = [line.split(",") for line in text.splitlines() if line.strip()]
    if lines and features and [c.strip() for c in lines[0]] == list(features):
        lines = lines[1:]
    names = [*features]
    rows: list[Row] = []
    for fields in lines:
        while len(names) < len(fields):
            names.append(f"_c{len(names)}")
        rows.append(
            {
                name: _csv_value(cell, number=name in numeric)
                for name, cell in zip(names, fields, strict=False)
            }
        )
    return rows


def _csv_value(cell: str, *, number: bool) -> Any:
    """A CSV field: None when empty; a float for numeric features when it parses; else text."""
    value = cell.strip()
    if not value:
        return None
    if number:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _json_prediction(item: Any) -> Prediction:
    """One JSON prediction: a number, ``[score, label]`` or an object with score/label keys."""
    if isinstance(item, int | float) and not isinstance(item, bool):
        return item, None
    if type(item) is dict:
        score = label = None
        for key in SCORE_KEYS:
            if key in item:
                score = item[key]
                break
        for key in LABEL_KEYS:
            if key in item:
                label = item[key]
                break
        if score is None and type(item.get("probabilities")) is dict:
            score = _top_probability(item["probabilities"].values())
        if score is None and label is None:
            raise PayloadError("a captured prediction has no score or label key")
        return score, label
    if isinstance(item, list) and 1 <= len(item) <= 2:
        return item[0], item[1] if len(item) == 2 else None
    raise PayloadError("a captured prediction is neither a number nor an object")


def _csv_prediction(line: str) -> Prediction:
    """One CSV prediction line: ``score`` or ``score,label``."""
    fields = [f.strip() for f in line.split(",")]
    if len(fields) > 2:  # a multiclass answer: label,p_1,...,p_K
        try:
            probabilities = [float(f) for f in fields[1:]]
        except ValueError:
            raise PayloadError(
                "a captured CSV prediction with more than two fields is not label,p_1,...,p_K"
            ) from None
        return _top_probability(probabilities), _label(fields[0]) if fields[0] else None
    try:
        score: Any = float(fields[0]) if fields[0] else None
    except ValueError:
        raise PayloadError("a captured CSV prediction does not start with a number") from None
    label: Any = None
    if len(fields) > 1 and fields[1]:
        label = _label(fields[1])
    return score, label


def _top_probability(values: Iterable[Any]) -> float:
    """A multiclass answer's score: the probability of its most probable class.

    The baseline of a multiclass model records the same (the top-class probability), so the
    prediction's drift is compared like for like.
    """
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numbers:
        raise PayloadError("a captured multiclass prediction has no numeric probability")
    return float(max(numbers))


def _label(text: str) -> Any:
    """A CSV label: an int when it is one, else the text."""
    try:
        return int(text)
    except ValueError:
        return text
