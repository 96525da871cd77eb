"""Rows accumulated while reading capture files, turned into numpy columns and one frame.

:class:`Chunk` collects one file's rows and metadata; :func:`chunk_arrays` makes one array per
column (float64 for numbers, objects otherwise); :func:`pack` / :func:`unpack` shrink object
columns with few distinct values to codes for the trip back from a worker process (the
unpacked column shares one string object per value, which also saves memory); :func:`concat`
joins the chunks into the monitoring frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from model_monitor.columns import (
    EVENT_ID,
    INFERENCE_ID,
    INFERENCE_TIME,
    PREDICTED_LABEL,
    PREDICTION,
    ROW,
    InferredType,
    Schema,
)
from model_monitor.payloads import Row

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

Arrays = dict[str, "npt.NDArray[Any]"]
Packed = dict[str, Any]


@dataclass
class Chunk:
    """Rows and metadata of one chunk, accumulated before becoming arrays."""

    rows: list[Row] = field(default_factory=list)
    scores: list[Any] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    inference_ids: list[str | None] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    requests: int = 0
    bad_inputs: int = 0
    bad_outputs: int = 0


def chunk_arrays(chunk: Chunk, *, schema: Schema | None) -> Arrays:
    """One array per column of a chunk."""
    import numpy as np

    rows = chunk.rows
    keys: set[str] = set()
    for row in rows:
        keys.update(row)
    known = list(schema.features) if schema is not None else []
    names = [n for n in known if n in keys] + sorted(keys.difference(known))
    types = schema.types if schema is not None else {}
    arrays: Arrays = {}
    for name, values in zip(names, _transpose(rows, names), strict=True):
        arrays[name] = _array(values, types.get(name))
    arrays[PREDICTION] = _array(chunk.scores, InferredType.FRACTIONAL)
    arrays[PREDICTED_LABEL] = _array(chunk.labels, None)
    arrays[EVENT_ID] = np.array(chunk.event_ids, dtype=object)
    arrays[INFERENCE_ID] = np.array(chunk.inference_ids, dtype=object)
    arrays[INFERENCE_TIME] = np.array(chunk.times, dtype=object)
    arrays[ROW] = np.array(chunk.positions, dtype=np.int64)
    return arrays


def _transpose(rows: list[Row], names: list[str]) -> list[list[Any]]:
    """Column lists of ``rows`` (a row without a name gives None there)."""
    from operator import itemgetter

    if not names:
        return []
    picked: list[Any] | None = None
    if len(names) > 1:
        try:
            picked = list(map(itemgetter(*names), rows))
        except KeyError:
            picked = None  # some rows lack a column: the slower path below fills None
    if picked is not None:
        return [list(column) for column in zip(*picked, strict=True)]
    return [[row.get(name) for row in rows] for name in names]


_NUMBERS = frozenset({int, float, type(None)})


def _array(values: list[Any], declared: InferredType | None) -> npt.NDArray[Any]:
    """float64 for numbers (None is NaN), objects for strings or mixed types."""
    import numpy as np

    if set(map(type, values)) <= _NUMBERS and declared is not InferredType.STRING:
        return np.array(values, dtype=np.float64)
    return np.array(values, dtype=object)


def concat(parts: list[Arrays], *, schema: Schema | None) -> pd.DataFrame:
    """Concatenate chunk arrays into one frame (a column missing from a chunk is missing there)."""
    import numpy as np
    import pandas as pd

    if not parts:
        names = [*(schema.names if schema is not None else ()), EVENT_ID, INFERENCE_ID]
        names += [INFERENCE_TIME, ROW]
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in dict.fromkeys(names)})
    order: list[str] = []
    for part in parts:
        order.extend(n for n in part if n not in order)
    columns: dict[str, Any] = {}
    for name in order:
        pieces = []
        for part in parts:
            length = len(part[ROW])
            piece = part.get(name)
            if piece is None:
                piece = np.full(length, np.nan) if name != ROW else np.zeros(length, np.int64)
            pieces.append(piece)
        if any(p.dtype == object for p in pieces):
            pieces = [p.astype(object) for p in pieces]
        columns[name] = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return pd.DataFrame(columns, copy=False)


_UNIQUE = frozenset({EVENT_ID, INFERENCE_ID})
"""Columns whose values are (nearly) all distinct: never worth packing."""


def pack(arrays: Arrays) -> Packed:
    """Object columns with few distinct values as ``(codes, values)``; others as they are."""
    import pandas as pd

    packed: Packed = {}
    for name, array in arrays.items():
        if array.dtype == object and len(array) > 64 and name not in _UNIQUE:
            codes, uniques = pd.factorize(array, use_na_sentinel=True)
            if len(uniques) * 4 < len(array):
                packed[name] = ("codes", codes.astype("int32"), uniques.astype(object))
                continue
        packed[name] = array
    return packed


def unpack(packed: Packed) -> Arrays:
    """Undo :func:`pack` (missing values come back as None)."""
    import numpy as np

    arrays: Arrays = {}
    for name, value in packed.items():
        if isinstance(value, tuple):
            _, codes, uniques = value
            lookup = np.append(uniques, np.array([None], dtype=object))
            arrays[name] = lookup[np.where(codes < 0, len(uniques), codes)]
        else:
            arrays[name] = value
    return arrays
