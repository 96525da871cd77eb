"""A loaded model bundle that scores validated batches: probabilities and thresholded labels."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from model_bundle.bundle import BundleError, ModelBundle, bundle_digest, load_bundle
from services.inference.errors import unprocessable
from services.inference.payload import Batch
from services.inference.schema import FeatureKind, FeatureSchema, infer_schema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    """Predictions for a batch, in row order.

    Attributes:
        probabilities: Probability of the positive class (label 1) per row.
        labels: 1 where the probability is at or above the bundle's threshold, else 0.
    """

    probabilities: list[float]
    labels: list[int]


class Predictor:
    """A model bundle ready to score: its input schema, identity and estimator.

    Args:
        bundle: The loaded bundle.
        digest: The bundle digest (``sha256:<hex>``).
        ref: Model reference shown to callers (e.g. ``driver_ranking:3``); when empty it is
            taken from the bundle metadata (``model_ref``, or ``model_name`` and ``version``).

    Raises:
        BundleError: The estimator has no ``predict_proba``, is not a binary classifier, or
            its fitted features do not match the bundle's feature list.
    """

    def __init__(self, *, bundle: ModelBundle, digest: str, ref: str = "") -> None:
        estimator = bundle.estimator
        if not callable(getattr(estimator, "predict_proba", None)):
            raise BundleError(f"the model ({type(estimator).__name__}) has no predict_proba")
        self._estimator = estimator
        self._positive = _positive_column(estimator)
        self.schema: FeatureSchema = infer_schema(estimator=estimator, features=bundle.features)
        self.threshold = float(bundle.threshold)
        self.digest = digest
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
            Probabilities and labels, one per row.

        Raises:
            RequestError: 422 when the batch holds missing values the model cannot score.
            ValueError: The estimator failed on input without missing values (a server fault).
            TypeError: Same, for type failures inside the estimator.
        """
        model_input = self._model_input(batch)
        try:
            proba = self._estimator.predict_proba(model_input)
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
        positive = np.asarray(proba, dtype=np.float64)[:, self._positive]
        labels = (positive >= self.threshold).astype(np.int64)
        return Scores(probabilities=positive.tolist(), labels=labels.tolist())

    def describe(self) -> dict[str, Any]:
        """Return what ``GET /metadata`` shows: identity, threshold, features and metadata.

        Returns:
            A JSON-serialisable dict.
        """
        return {
            "model": {"ref": self.ref, "digest": self.digest},
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


def _positive_column(estimator: Any) -> int:
    """Column of ``predict_proba`` holding the positive class (label 1 or True)."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return 1
    labels = list(classes)
    if len(labels) != 2:
        raise BundleError(f"expected a binary classifier, the model has {len(labels)} classes")
    for i, label in enumerate(labels):
        if not isinstance(label, str) and label == 1:
            return i
    return 1


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
