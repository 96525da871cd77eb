"""A loaded model bundle that scores validated batches, answering per task.

* ``binary``: ``{"probability": p, "label": l}``: ``p`` is the probability of the positive
  class (the bundle's second class) and ``l`` that class when ``p`` is at or above the
  threshold, else the first class (``1``/``0`` for a 0/1 label).
* ``multiclass``: ``{"probabilities": {class: p, ...}, "label": l}``: one probability per class
  (keys are the class labels as text) and the most probable class (first on a tie).
* ``regression``: ``{"prediction": v}``.

Probabilities and predictions are the estimator's own ``predict_proba``/``predict`` values as
floats, unrounded. CSV answers carry the same values, one line per row: ``probability,label``;
``label,p_1,...,p_K`` (classes in the bundle's order); ``prediction``. A bundle that records no
task (built before tasks existed) is served as binary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from model_bundle.bundle import BundleError, ModelBundle, bundle_digest, load_bundle
from model_bundle.task import Task
from services.inference.errors import unprocessable
from services.inference.payload import Batch
from services.inference.schema import FeatureKind, FeatureSchema, infer_schema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    """Predictions for a batch, in row order; :meth:`records` and :meth:`csv_body` answer them.

    Attributes:
        task: What the model predicts.
        positive: Binary: probability of the positive class per row; else empty.
        predicted: Classification: the predicted label per row; else empty.
        classes: Classification: class labels in column order of ``class_probabilities``.
        class_probabilities: Multiclass: one row of probabilities per row, in ``classes`` order.
        predictions: Regression: the predicted value per row.
    """

    task: Task
    positive: list[float] = field(default_factory=list)
    predicted: list[Any] = field(default_factory=list)
    classes: tuple[Any, ...] = ()
    class_probabilities: list[list[float]] | None = None
    predictions: list[float] | None = None

    @property
    def probabilities(self) -> list[float]:
        """Binary only: the positive-class probabilities (the answer's ``probability``).

        Raises:
            TypeError: Not a binary model: its answer has another shape (:meth:`records`).
        """
        self._binary_only("probabilities")
        return self.positive

    @property
    def labels(self) -> list[Any]:
        """Binary only: the thresholded labels (the answer's ``label``).

        Raises:
            TypeError: Not a binary model: its answer has another shape (:meth:`records`).
        """
        self._binary_only("labels")
        return self.predicted

    def _binary_only(self, name: str) -> None:
        if self.task is not Task.BINARY:
            raise TypeError(
                f"a {self.task} answer has no binary {name}; answer with Scores.records() "
                "(JSON) and Scores.csv_body() (CSV)"
            )

    def records(self) -> list[dict[str, Any]]:
        """The JSON answer's ``predictions``: one object per row in the task's shape."""
        if self.task is Task.REGRESSION:
            return [{"prediction": v} for v in self.predictions or []]
        if self.task is Task.MULTICLASS:
            keys = [str(c) for c in self.classes]
            return [
                {"probabilities": dict(zip(keys, row, strict=True)), "label": label}
                for row, label in zip(self.class_probabilities or [], self.predicted, strict=True)
            ]
        return [
            {"probability": p, "label": label}
            for p, label in zip(self.positive, self.predicted, strict=True)
        ]

    def csv_body(self) -> bytes:
        """The CSV answer: one line per row (see the module docs); floats round-trip (repr)."""
        if self.task is Task.REGRESSION:
            lines = [f"{v!r}\n" for v in self.predictions or []]
        elif self.task is Task.MULTICLASS:
            lines = [
                ",".join([_csv_cell(label), *(repr(p) for p in row)]) + "\n"
                for row, label in zip(self.class_probabilities or [], self.predicted, strict=True)
            ]
        else:
            lines = [
                f"{p!r},{_csv_cell(label)}\n"
                for p, label in zip(self.positive, self.predicted, strict=True)
            ]
        return "".join(lines).encode()


class Predictor:
    """A model bundle ready to score: its input schema, identity and estimator.

    Args:
        bundle: The loaded bundle.
        digest: The bundle digest (``sha256:<hex>``).
        ref: Model reference shown to callers (e.g. ``driver_ranking:3``); when empty it is
            taken from the bundle metadata (``model_ref``, or ``model_name`` and ``version``).

    Raises:
        BundleError: The estimator lacks ``predict_proba`` (classifier) or ``predict``
            (regressor), its classes do not match the task, or its fitted features do not
            match the bundle's feature list.
    """

    def __init__(self, *, bundle: ModelBundle, digest: str, ref: str = "") -> None:
        estimator = bundle.estimator
        self.task = bundle.task
        method = "predict_proba" if self.task.is_classification else "predict"
        if not callable(getattr(estimator, method, None)):
            raise BundleError(f"the {self.task} model ({type(estimator).__name__}) has no {method}")
        self._estimator = estimator
        self.classes: tuple[Any, ...] = _classes(estimator, bundle)
        self._positive = _positive_column(estimator, bundle)
        self.schema: FeatureSchema = infer_schema(estimator=estimator, features=bundle.features)
        self.threshold: float | None = (
            float(bundle.threshold if bundle.threshold is not None else 0.5)
            if self.task is Task.BINARY
            else None
        )
        self.digest = digest
        self._bundle = bundle
        self._explainer: Any = None
        self.ref = ref or _default_ref(bundle.metadata)
        self.metadata: dict[str, Any] = dict(bundle.metadata)
        features = self.schema.features
        order = self.schema.model_columns
        if order is None and any(k is FeatureKind.CATEGORY for k in self.schema.kinds.values()):
            order = features
        position = {name: i for i, name in enumerate(features)}
        self._frame: tuple[tuple[str, int], ...] | None = (
            None if order is None else tuple((name, position[name]) for name in order)
        )
        self._warm_up()

    @classmethod
    def load(cls, *, bundle_dir: Path, model_ref: str = "") -> Predictor:
        """Load a bundle folder.

        Args:
            bundle_dir: Folder holding ``model.joblib`` and ``bundle.json``.
            model_ref: Model reference shown to callers (see the class docs).

        Returns:
            The predictor.

        Raises:
            BundleError: The bundle is missing, unreadable or unusable; the message says why.
        """
        bundle = load_bundle(directory=bundle_dir)
        return cls(bundle=bundle, digest=bundle_digest(directory=bundle_dir), ref=model_ref)

    def predict(self, batch: Batch) -> Scores:
        """Score a validated batch.

        Args:
            batch: Columns in the schema's feature order.

        Returns:
            The task's answer per row (see :class:`Scores`).

        Raises:
            RequestError: 422 when the batch holds missing values the model cannot score.
            ValueError: The estimator failed on input without missing values (a server fault).
            TypeError: Same, for type failures inside the estimator.
        """
        model_input = self._model_input(batch)
        try:
            if self.task is Task.REGRESSION:
                values = np.asarray(self._estimator.predict(model_input), dtype=np.float64)
                return Scores(task=self.task, predictions=values.reshape(-1).tolist())
            proba = np.asarray(self._estimator.predict_proba(model_input), dtype=np.float64)
        except (ValueError, TypeError) as exc:
            missing = _first_missing(batch, features=self.schema.features)
            if missing is None:
                raise
            feature, row = missing
            raise unprocessable(
                f"the model cannot score missing values: feature {feature} is missing "
                f"(null or empty) in row {row}",
                code="missing_values",
                row=row,
                feature=feature,
            ) from exc
        if self.task is Task.MULTICLASS:
            best = np.argmax(proba, axis=1)
            return Scores(
                task=self.task,
                predicted=[self.classes[i] for i in best.tolist()],
                classes=self.classes,
                class_probabilities=proba.tolist(),
            )
        positive = proba[:, self._positive]
        negative, chosen = self.classes  # the positive class is the second one
        threshold = 0.5 if self.threshold is None else self.threshold
        labels = [chosen if p >= threshold else negative for p in positive.tolist()]
        return Scores(
            task=self.task, positive=positive.tolist(), predicted=labels, classes=self.classes
        )

    def explain(self, batch: Batch, *, top: int) -> dict[str, Any]:
        """SHAP contributions of every row of a validated batch: the ``top`` largest each.

        The explainer (:class:`model_bundle.explain.Explainer`: TreeExplainer for tree models,
        the permutation method against the bundle's background rows otherwise) is built on
        the first call and reused. Returns ``{"method", "kind", "top", "rows"}`` where
        ``rows[i]`` lists, per explained output, ``{"output", "expected_value",
        "contributions": [{"feature", "value", "shap"}, ...]}``.

        Raises:
            RequestError: 501 when this model cannot be explained here (``shap`` is not
                installed, or no tree model and no background rows in the bundle).
        """
        import pandas as pd

        explainer = self._explainer_or_error()
        frame = pd.DataFrame(
            {name: batch.columns[i] for i, name in enumerate(self.schema.features)}, copy=False
        )
        explanation = explainer.explain(frame)
        rows = [explanation.top(i, k=top) for i in range(batch.rows)]
        return {"method": explanation.method, "kind": explanation.kind, "top": top, "rows": rows}

    def _explainer_or_error(self) -> Any:
        if self._explainer is not None:
            return self._explainer
        from model_bundle.explain import Explainer
        from services.inference.errors import RequestError

        try:
            self._explainer = Explainer(
                estimator=self._estimator,
                features=list(self.schema.features),
                task=self.task,
                classes=list(self.classes) if self.task.is_classification else None,
                background=self._bundle.background,
            )
            if self._explainer.method == "tree":
                import shap  # type: ignore[import-untyped]  # noqa: F401 - fail here (501), not later
        except (ImportError, ValueError) as exc:
            self._explainer = None
            raise RequestError(
                f"this model cannot be explained here: {exc}",
                status=501,
                code="explain_unavailable",
            ) from exc
        return self._explainer

    def describe(self) -> dict[str, Any]:
        """Return what ``GET /metadata`` shows: identity, task, classes, threshold, features.

        Returns:
            A JSON-serialisable dict.
        """
        return {
            "model": {"ref": self.ref, "digest": self.digest},
            "task": str(self.task),
            "classes": list(self.classes) if self.task.is_classification else None,
            "threshold": self.threshold,
            **self.schema.describe(),
            "metadata": self.metadata,
        }

    def _model_input(self, batch: Batch) -> Any:
        """Build the estimator input: a float matrix, or a DataFrame in the fitted order."""
        if self._frame is None:
            return np.column_stack(batch.columns)
        import pandas as pd

        return pd.DataFrame({name: batch.columns[i] for name, i in self._frame}, copy=False)

    def _warm_up(self) -> None:
        """Score one synthetic row so the first request is not slow; failures only warn."""
        columns: list[npt.NDArray[Any]] = []
        for name in self.schema.features:
            if self.schema.kinds[name] is FeatureKind.NUMBER:
                columns.append(np.zeros(1, dtype=np.float64))
            else:
                allowed = sorted(v for v in self.schema.categories.get(name, ()) if v is not None)
                column = np.empty(1, dtype=object)
                column[0] = allowed[0] if allowed else ""
                columns.append(column)
        try:
            self.predict(Batch(columns=tuple(columns), rows=1))
        except (ValueError, TypeError, ArithmeticError) as exc:
            logger.warning("warm-up prediction failed (%s); serving anyway", type(exc).__name__)


def _classes(estimator: Any, bundle: ModelBundle) -> tuple[Any, ...]:
    """The class labels answered: recorded ones, ``(0, 1)`` for an old binary bundle, ``()``.

    Raises:
        BundleError: The class count does not fit the task.
    """
    if bundle.task is Task.REGRESSION:
        return ()
    fitted = getattr(estimator, "classes_", None)
    if bundle.classes is not None:
        classes = tuple(bundle.classes)
    elif bundle.task is Task.BINARY:
        classes = (0, 1)
        if fitted is not None and len(fitted) != 2:
            raise BundleError(f"expected a binary classifier, the model has {len(fitted)} classes")
    else:
        raise BundleError("bundle.json of a multiclass model lists no classes")
    count = len(classes)
    if bundle.task is Task.BINARY and count != 2:
        raise BundleError(f"expected a binary classifier, the model has {count} classes")
    if bundle.task is Task.MULTICLASS and count < 3:
        raise BundleError(f"expected a multiclass classifier, the model has {count} classes")
    return classes


def _positive_column(estimator: Any, bundle: ModelBundle) -> int:
    """Column of ``predict_proba`` holding the positive class of a binary model (else 0).

    Recorded classes: column 1 (``classes[1]``). A bundle without (built before classes were
    recorded): the column of the label 1 (or True) among the estimator's ``classes_``.
    """
    if bundle.task is not Task.BINARY:
        return 0
    fitted = getattr(estimator, "classes_", None)
    if bundle.classes is not None or fitted is None:
        return 1
    for i, label in enumerate(list(fitted)):
        if not isinstance(label, str) and label == 1:
            return i
    return 1


def _csv_cell(value: Any) -> str:
    """A label as a CSV field (quoted when it holds a comma, quote or newline)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _default_ref(metadata: dict[str, Any]) -> str:
    """Model reference from bundle metadata: ``model_ref``, else ``<model_name>:<version>``."""
    ref = metadata.get("model_ref")
    if isinstance(ref, str) and ref:
        return ref
    name, version = metadata.get("model_name"), metadata.get("version")
    if name and version is not None:
        return f"{name}:{version}"
    return ""


def _first_missing(batch: Batch, *, features: tuple[str, ...]) -> tuple[str, int] | None:
    """The first (feature, row) holding a missing value, or None."""
    for name, column in zip(features, batch.columns, strict=True):
        if column.dtype == np.float64:
            mask = np.isnan(column)
        else:
            mask = np.fromiter((v is None for v in column), dtype=bool, count=len(column))
        if mask.any():
            return name, int(np.argmax(mask))
    return None
