"""Baselines: what the training data and the model's predictions on it looked like.

:func:`build_baseline` takes the training features and the model's predictions on them and
returns a :class:`Baseline`; :meth:`Baseline.write` saves it as four files in one folder and
:func:`load_baseline` reads them back:

* ``statistics.json`` and ``constraints.json``: Model Monitor's formats
  (:mod:`model_monitor.statistics`, :mod:`model_monitor.constraints`), with the prediction
  columns (:data:`~model_monitor.columns.PREDICTION`, and ``PREDICTED_LABEL`` for
  classifiers) listed after the features.
* ``reference.parquet``: a seeded sample of at most ``reference_rows`` rows of features and
  predictions, the reference for the drift tests (so a monitoring run never needs the
  training set and stays bounded).
* ``baseline.json``: Slipway's manifest: task, feature order, prediction columns, sample size.

The same input gives byte-identical files (sorted keys, a seeded sample, no timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.files import write_bytes_atomic, write_json_atomic
from model_monitor.columns import (
    PREDICTED_LABEL,
    PREDICTION,
    ColumnSpec,
    InferredType,
    Schema,
    Task,
    check_feature_names,
)
from model_monitor.constraints import DEFAULT_MAX_DOMAIN, Constraints, suggest_constraints
from model_monitor.errors import BaselineError
from model_monitor.statistics import compute_statistics, infer_type

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

STATISTICS_FILE: Final = "statistics.json"
CONSTRAINTS_FILE: Final = "constraints.json"
REFERENCE_FILE: Final = "reference.parquet"
MANIFEST_FILE: Final = "baseline.json"
DEFAULT_REFERENCE_ROWS: Final = 5000
MANIFEST_VERSION: Final = 1


@dataclass(frozen=True)
class Baseline:
    """A baseline in memory.

    Attributes:
        schema: The monitored columns (features in input order, then predictions).
        statistics: The ``statistics.json`` document.
        constraints: The parsed ``constraints.json``.
        reference: The reference sample (features and prediction columns).
        rows: Rows of the training frame the statistics describe.
    """

    schema: Schema
    statistics: dict[str, Any]
    constraints: Constraints
    reference: pd.DataFrame
    rows: int

    def manifest(self) -> dict[str, Any]:
        """The ``baseline.json`` document."""
        return {
            "version": MANIFEST_VERSION,
            "task": self.schema.task.value,
            "features": list(self.schema.features),
            "predictions": [c.name for c in self.schema.columns if c.prediction],
            "rows": self.rows,
            "reference": {"file": REFERENCE_FILE, "rows": len(self.reference)},
        }

    def write(self, *, directory: Path) -> list[Path]:
        """Write the four baseline files into ``directory`` (created if needed).

        Returns:
            The paths written.
        """
        import io

        paths = [directory / name for name in (STATISTICS_FILE, CONSTRAINTS_FILE, MANIFEST_FILE)]
        for path, doc in zip(
            paths, (self.statistics, self.constraints.to_json(), self.manifest()), strict=True
        ):
            write_json_atomic(path, doc)
        buffer = io.BytesIO()
        self.reference.to_parquet(buffer, index=False, compression="zstd")
        reference = directory / REFERENCE_FILE
        write_bytes_atomic(reference, buffer.getvalue())
        return [*paths, reference]


def build_baseline(
    *,
    features: pd.DataFrame,
    prediction: Any,
    predicted_label: Any = None,
    task: Task | str = Task.CLASSIFICATION,
    reference_rows: int = DEFAULT_REFERENCE_ROWS,
    max_domain: int = DEFAULT_MAX_DOMAIN,
    seed: int = 0,
) -> Baseline:
    """Build the baseline of a training frame and the model's predictions on it.

    Args:
        features: The training features, one column per model input, in input order.
        prediction: One score per row: the positive-class probability (classification) or
            the predicted value (regression).
        predicted_label: One class per row (required for classification, refused for
            regression).
        task: ``classification`` or ``regression``.
        reference_rows: Largest reference sample kept for the drift tests.
        max_domain: String columns with at most this many distinct values get a domain.
        seed: Seed of the reference sample.

    Raises:
        BaselineError: The frame is empty, a name is reserved, the predictions do not have
            one value per row, a label is missing or unexpected, or a setting is invalid.
    """
    import numpy as np
    import pandas as pd

    kind = _task(task)
    if features.empty or not len(features.columns):
        raise BaselineError("the training frame is empty: a baseline needs rows and columns")
    if reference_rows < 1 or max_domain < 0:
        raise BaselineError("reference_rows must be at least 1 and max_domain at least 0")
    names = [str(c) for c in features.columns]
    if len(set(names)) != len(names):
        raise BaselineError("the training frame has duplicate column names")
    check_feature_names(names)
    frame = features.reset_index(drop=True).copy()
    frame.columns = pd.Index(names)
    frame[PREDICTION] = _column(prediction, rows=len(frame), label="prediction")
    if kind is Task.CLASSIFICATION:
        if predicted_label is None:
            raise BaselineError("a classification baseline needs predicted_label (one per row)")
        frame[PREDICTED_LABEL] = _column(predicted_label, rows=len(frame), label="predicted_label")
    elif predicted_label is not None:
        raise BaselineError("a regression baseline takes no predicted_label")
    score = frame[PREDICTION]
    if not pd.api.types.is_numeric_dtype(score.dtype) or pd.api.types.is_bool_dtype(score.dtype):
        raise BaselineError("prediction must hold numbers (probabilities or predicted values)")
    columns = tuple(
        ColumnSpec(
            name,
            infer_type(frame[name]) if name != PREDICTION else InferredType.FRACTIONAL,
            prediction=name in (PREDICTION, PREDICTED_LABEL),
        )
        for name in frame.columns
    )
    schema = Schema(task=kind, columns=columns)
    statistics = compute_statistics(frame, schema=schema)
    constraints = suggest_constraints(statistics, max_domain=max_domain)
    if len(frame) > reference_rows:
        picked = np.sort(
            np.random.default_rng(seed).choice(len(frame), reference_rows, replace=False)
        )
        reference = frame.iloc[picked].reset_index(drop=True)
    else:
        reference = frame
    return Baseline(schema, statistics, constraints, reference.copy(), len(frame))


def load_baseline(*, directory: Path) -> Baseline:
    """Read a baseline folder written by :meth:`Baseline.write`.

    ``constraints.json`` may have been edited by hand (thresholds, domains); it is validated.

    Raises:
        BaselineError: A file is missing or malformed, or the files disagree on the columns.
    """
    import io

    import orjson
    import pandas as pd

    docs: dict[str, Any] = {}
    for name in (STATISTICS_FILE, CONSTRAINTS_FILE, MANIFEST_FILE):
        path = directory / name
        try:
            docs[name] = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise BaselineError(f"{path}: missing (is {directory} a baseline folder?)") from None
        except orjson.JSONDecodeError:
            raise BaselineError(f"{path}: not valid JSON") from None
    manifest, statistics = docs[MANIFEST_FILE], docs[STATISTICS_FILE]
    constraints = Constraints.from_json(docs[CONSTRAINTS_FILE])
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise BaselineError(
            f"{directory / MANIFEST_FILE}: not a version {MANIFEST_VERSION} manifest"
        )
    if not isinstance(statistics, dict) or not isinstance(statistics.get("features"), list):
        raise BaselineError(f"{directory / STATISTICS_FILE}: no features list")
    kind = _task(manifest.get("task"))
    predictions = set(manifest.get("predictions") or [])
    specs = tuple(
        ColumnSpec(c.name, c.inferred_type, prediction=c.name in predictions)
        for c in constraints.features
    )
    listed = [s.name for s in specs if not s.prediction]
    if listed != list(manifest.get("features") or []):
        raise BaselineError(
            f"{directory}: constraints.json and baseline.json list different features"
        )
    path = directory / REFERENCE_FILE
    try:
        reference = pd.read_parquet(io.BytesIO(path.read_bytes()))
    except FileNotFoundError:
        raise BaselineError(f"{path}: missing (is {directory} a baseline folder?)") from None
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: not a readable parquet file ({type(exc).__name__})") from None
    rows = manifest.get("rows")
    return Baseline(
        schema=Schema(task=kind, columns=specs),
        statistics=statistics,
        constraints=constraints,
        reference=reference,
        rows=int(rows) if isinstance(rows, int) else len(reference),
    )


def _task(value: Any) -> Task:
    """Parse a task name."""
    try:
        return Task(str(value))
    except ValueError:
        raise BaselineError(
            f"unknown task {value!r}; expected classification or regression"
        ) from None


def _column(values: Any, *, rows: int, label: str) -> npt.NDArray[Any] | pd.Series:
    """A prediction column with exactly one value per row."""
    import numpy as np
    import pandas as pd

    column = values.reset_index(drop=True) if isinstance(values, pd.Series) else np.asarray(values)
    if column.ndim != 1 or len(column) != rows:
        raise BaselineError(f"{label} must hold one value per training row ({rows})")
    return column
