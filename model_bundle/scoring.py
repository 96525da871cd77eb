"""Score a DataFrame with a bundle, per task, in columns (batch scoring).

The input is coerced the way the inference server reads a request: numeric features become
float64 (missing values NaN), string features object arrays of ``str`` or None, in the order the
estimator was fitted on; so a row scores here exactly as the server scores it. The answer is
columnar, named per task:

* binary: ``probability`` (of the positive class, the bundle's second class) and ``label``
  (the positive class at or above the threshold, else the first class);
* multiclass: ``label`` (the most probable class, first on a tie) and ``p_<class>`` per class
  in the bundle's class order;
* regression: ``prediction``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from model_bundle.bundle import BundleError
from model_bundle.task import Task

if TYPE_CHECKING:
    import pandas as pd

    from model_bundle.bundle import ModelBundle


def model_input(bundle: ModelBundle, frame: pd.DataFrame) -> pd.DataFrame:
    """The estimator's input: the bundle's features of ``frame``, coerced as the server reads them.

    Raises:
        BundleError: ``frame`` lacks a feature the model needs.
    """
    import pandas as pd

    missing = [name for name in bundle.features if name not in frame.columns]
    if missing:
        raise BundleError(f"the rows lack the model's features {', '.join(missing)}")
    categorical = set(bundle.metadata.get("categorical") or [])
    fitted = getattr(bundle.estimator, "feature_names_in_", None)
    order = [str(c) for c in fitted] if fitted is not None else list(bundle.features)
    columns: dict[str, Any] = {}
    for name in order:
        series = frame[name]
        if name in categorical or series.dtype == object or pd.api.types.is_string_dtype(series):
            values = series.astype(object).to_numpy()
            array = np.empty(len(values), dtype=object)
            array[:] = [None if pd.isna(v) else str(v) for v in values]
            columns[name] = array
        else:
            columns[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(columns, copy=False)


def predict_columns(bundle: ModelBundle, frame: pd.DataFrame) -> dict[str, Any]:
    """The task's answer columns for every row of ``frame`` (see the module docs).

    Raises:
        BundleError: A feature is missing, or the estimator does not fit the task.
    """
    x = model_input(bundle, frame)
    estimator = bundle.estimator
    if bundle.task is Task.REGRESSION:
        return {"prediction": np.asarray(estimator.predict(x), dtype=np.float64).reshape(-1)}
    proba = np.asarray(estimator.predict_proba(x), dtype=np.float64)
    classes = list(bundle.classes) if bundle.classes is not None else [0, 1]
    if bundle.task is Task.MULTICLASS:
        if proba.shape[1] != len(classes):
            raise BundleError(f"the model answers {proba.shape[1]} classes, not {len(classes)}")
        labels = np.array(classes, dtype=object)[np.argmax(proba, axis=1)]
        return {"label": labels, **{f"p_{c}": proba[:, i] for i, c in enumerate(classes)}}
    positive = proba[:, _positive_column(bundle)]
    threshold = 0.5 if bundle.threshold is None else bundle.threshold
    chosen = np.array(classes[:2], dtype=object)[(positive >= threshold).astype(np.int64)]
    return {"probability": positive, "label": chosen}


def _positive_column(bundle: ModelBundle) -> int:
    fitted = getattr(bundle.estimator, "classes_", None)
    if bundle.classes is not None or fitted is None:
        return 1
    for i, label in enumerate(list(fitted)):
        if not isinstance(label, str) and label == 1:
            return i
    return 1
