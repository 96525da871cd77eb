"""Step 2b, label check: the label must fit the model's task, checked before anything is trained.

* ``binary``: exactly two classes; ``multiclass``: 3 to ``data.max_classes`` classes. Class
  labels are integers, booleans or strings: a float label is refused (fares truncated to 64
  "classes" is the failure this prevents).
* ``regression``: a numeric label (not boolean) with at least two distinct values.
* Every task: no missing labels.

A failure is one :class:`LabelError` line naming the definition file, ``data.label`` and the
label column, e.g. ``model_build/models/fare/model.yaml: field 'data.label': label 'fare' is
float64 (e.g. 12.5), but task 'binary' needs class labels...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model_build.errors import BuildError
from model_bundle.task import Task

if TYPE_CHECKING:
    import pandas as pd


class LabelError(BuildError):
    """The label column does not fit the model's task (checked before training)."""


@dataclass(frozen=True)
class LabelInfo:
    """What the label holds.

    Attributes:
        task: The model's task.
        classes: Sorted class labels as plain JSON values (classification), else None.
        dtype: The column's dtype.
    """

    task: Task
    classes: list[Any] | None
    dtype: str


def check_label(
    values: pd.Series, *, task: Task, label: str, source: str, max_classes: int = 50
) -> LabelInfo:
    """Check that ``values`` (the label column) fit ``task``; return its classes.

    ``label`` is the column name and ``source`` the definition file, both named in the error;
    ``max_classes`` caps a multiclass label.

    Raises:
        LabelError: One line naming ``source``, ``data.label`` and the label.
    """
    import pandas as pd

    where = f"{source}: field 'data.label': label {label!r}"
    dtype = str(values.dtype)
    missing = int(values.isna().sum())
    if missing:
        raise LabelError(
            f"{where} has {missing} missing value(s) of {len(values)}; fill or drop them"
        )
    if task is Task.REGRESSION:
        numeric = pd.api.types.is_numeric_dtype(values.dtype)
        if not numeric or pd.api.types.is_bool_dtype(values.dtype):
            raise LabelError(
                f"{where} is {dtype} (e.g. {_example(values)}), but task 'regression' needs a "
                "numeric label; use task 'binary' or 'multiclass' for classes"
            )
        if values.nunique() < 2:
            raise LabelError(f"{where} has a single value ({_example(values)}); nothing to learn")
        return LabelInfo(task=task, classes=None, dtype=dtype)
    if pd.api.types.is_float_dtype(values.dtype):
        whole = bool((values == values.round()).all())
        hint = (
            "store the classes as integers (int64)"
            if whole
            else "use task 'regression' for a numeric target"
        )
        raise LabelError(
            f"{where} is {dtype} (e.g. {_example(values)}), but task '{task}' needs class labels "
            f"(integers, booleans or strings); {hint}"
        )
    classes = sorted((_plain(v) for v in values.unique()), key=_order)
    count = len(classes)
    shown = ", ".join(repr(c) for c in classes[:5]) + (" ..." if count > 5 else "")
    if count < 2:
        raise LabelError(f"{where} has a single class ({shown}); a classifier needs two or more")
    if task is Task.BINARY and count != 2:
        raise LabelError(
            f"{where} has {count} classes ({shown}), but task 'binary' needs exactly 2; "
            "use task 'multiclass'"
        )
    if task is Task.MULTICLASS and count == 2:
        raise LabelError(f"{where} has 2 classes ({shown}); use task 'binary'")
    if task is Task.MULTICLASS and count > max_classes:
        raise LabelError(
            f"{where} has {count} classes ({shown}), more than data.max_classes ({max_classes}); "
            "is it a numeric target (task 'regression') or an id?"
        )
    return LabelInfo(task=task, classes=classes, dtype=dtype)


def _plain(value: Any) -> Any:
    """A NumPy scalar as the plain Python value JSON holds."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _order(value: Any) -> tuple[str, Any]:
    """Sort key that keeps numbers numeric and never compares a number with a string."""
    return (type(value).__name__, value)


def _example(values: pd.Series) -> str:
    first = values.iloc[0] if len(values) else None
    return repr(_plain(first))
