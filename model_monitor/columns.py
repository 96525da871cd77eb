"""Column names, types and roles shared by capture frames, baselines, checks and drift.

A *monitoring frame* is a pandas DataFrame with one row per scored row (a request may carry
several rows): the model's input features, the prediction columns and the capture metadata.

* Feature columns keep the names the caller sent.
* :data:`PREDICTION` holds the score: the positive-class probability of a classifier, or the
  predicted value of a regressor. :data:`PREDICTED_LABEL` holds a classifier's class.
* Metadata columns start with an underscore (:data:`META_COLUMNS`): the capture record's
  ``eventId``, ``inferenceId``, ``inferenceTime`` and the row's position in its request.

Features may not use a reserved name (:func:`check_feature_names`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from model_monitor.errors import BaselineError

PREDICTION: Final = "prediction"
PREDICTED_LABEL: Final = "predicted_label"
PREDICTION_COLUMNS: Final = (PREDICTION, PREDICTED_LABEL)

EVENT_ID: Final = "_event_id"
INFERENCE_ID: Final = "_inference_id"
INFERENCE_TIME: Final = "_inference_time"
ROW: Final = "_row"
META_COLUMNS: Final = (EVENT_ID, INFERENCE_ID, INFERENCE_TIME, ROW)


class InferredType(StrEnum):
    """Model Monitor's ``inferred_type`` of a column."""

    INTEGRAL = "Integral"
    FRACTIONAL = "Fractional"
    STRING = "String"
    UNKNOWN = "Unknown"

    @property
    def numeric(self) -> bool:
        """Whether values are numbers (Integral or Fractional)."""
        return self in (InferredType.INTEGRAL, InferredType.FRACTIONAL)


class Task(StrEnum):
    """What the model predicts, which decides the prediction columns and quality metrics."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


@dataclass(frozen=True)
class ColumnSpec:
    """One monitored column: its name, type, and whether it is a model output."""

    name: str
    inferred_type: InferredType
    prediction: bool = False

    @property
    def categorical(self) -> bool:
        """Whether drift treats the column as categories (strings and the predicted class)."""
        return self.inferred_type is InferredType.STRING or self.name == PREDICTED_LABEL


@dataclass(frozen=True)
class Schema:
    """The monitored columns in order: features first (the model's input order), then outputs."""

    task: Task
    columns: tuple[ColumnSpec, ...]

    @property
    def features(self) -> tuple[str, ...]:
        """Feature names in input order (the order of CSV fields and value arrays)."""
        return tuple(c.name for c in self.columns if not c.prediction)

    @property
    def names(self) -> tuple[str, ...]:
        """Every monitored column name."""
        return tuple(c.name for c in self.columns)

    @property
    def types(self) -> Mapping[str, InferredType]:
        """Inferred type by column name."""
        return {c.name: c.inferred_type for c in self.columns}

    def column(self, name: str) -> ColumnSpec:
        """The column called ``name``.

        Raises:
            KeyError: No such column.
        """
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)


RESERVED: Final = frozenset((*PREDICTION_COLUMNS, *META_COLUMNS))


def check_feature_names(names: Iterable[str]) -> None:
    """Refuse feature names that collide with prediction or metadata columns.

    Raises:
        BaselineError: A feature uses a reserved name; the message lists them.
    """
    clashes = sorted(set(names) & RESERVED)
    if clashes:
        raise BaselineError(
            f"feature names reserved for predictions or capture metadata: {', '.join(clashes)}"
        )
