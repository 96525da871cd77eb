"""Scores of predictions against labels, per task (pure functions, no estimator).

* binary (:func:`score`): ROC AUC, PR AUC (average precision), log loss, Brier, ECE, accuracy,
  precision/recall/F1 of the positive class at the threshold and their macro averages; the
  confusion counts and the reliability curve.
* multiclass (:func:`score_multiclass`): ROC AUC and PR AUC one-vs-rest (macro over the classes
  present in the labels), log loss, Brier (summed over classes), top-label ECE, accuracy,
  macro precision/recall/F1; the confusion matrix and per-class precision/recall/F1/support.
* regression (:func:`score_regression`): RMSE, MAE, R2, MAPE (rows with a zero label left out)
  and residual (label - prediction) quantiles.

Labels of classifiers are class codes ``0..K-1`` (the index in the bundle's ``classes``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from model_build.errors import PipelineError

_EPS: Final = 1e-15
QUANTILES: Final = (5, 25, 50, 75, 95)
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the reliability curve.

    Attributes:
        lower: Bin lower edge (inclusive).
        upper: Bin upper edge (exclusive, except the last bin).
        count: Holdout rows whose predicted probability falls in the bin.
        mean_predicted: Mean predicted probability in the bin (None if empty).
        fraction_positive: Observed share of positives (multiclass: of correct top labels) in
            the bin (None if empty).
    """

    lower: float
    upper: float
    count: int
    mean_predicted: float | None
    fraction_positive: float | None


@dataclass(frozen=True)
class Scores:
    """Metrics of predictions against labels, and the tables behind them.

    Attributes:
        metrics: Scalar metrics by name (see the module docs).
        confusion: Binary: ``tp``, ``fp``, ``tn``, ``fn`` at the threshold; else empty.
        calibration: Reliability curve bins (classification), else empty.
        matrix: Confusion matrix, rows = true class code, columns = predicted (classification).
        per_class: Per class code: ``precision``, ``recall``, ``f1``, ``support``.
    """

    metrics: dict[str, float]
    confusion: dict[str, int] = field(default_factory=dict)
    calibration: list[CalibrationBin] = field(default_factory=list)
    matrix: list[list[int]] = field(default_factory=list)
    per_class: dict[int, dict[str, float]] = field(default_factory=dict)


def score(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, *, threshold: float, bins: int
) -> Scores:
    """Binary scores from 0/1 ``labels`` and predicted P(label = 1).

    ``threshold`` decides the predicted labels; ``bins`` are equal-width calibration bins.

    Raises:
        PipelineError: Sizes differ, or the labels hold a single class.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(labels, dtype=np.int64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    if y.shape != p.shape or y.ndim != 1:
        raise PipelineError(f"evaluate: {y.shape[0]} labels but {p.shape[0]} predictions")
    if np.unique(y).size < 2:
        raise PipelineError("evaluate: the holdout holds a single label class")
    predicted = p >= threshold
    positive = y == 1
    tp = int(np.sum(predicted & positive))
    fp = int(np.sum(predicted & ~positive))
    fn = int(np.sum(~predicted & positive))
    tn = int(np.sum(~predicted & ~positive))
    calibration, ece = calibration_bins(p, positive.astype(np.float64), bins=bins)
    per_class = _per_class(y, predicted.astype(np.int64), n_classes=2)
    metrics = {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": ece,
        "precision": per_class[1]["precision"],
        "recall": per_class[1]["recall"],
        "f1": per_class[1]["f1"],
        "accuracy": float((tp + tn) / y.size),
        **_macro(per_class),
    }
    return Scores(
        metrics=metrics,
        confusion={"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        calibration=calibration,
        matrix=[[tn, fp], [fn, tp]],
        per_class=per_class,
    )


def score_multiclass(labels: npt.ArrayLike, probabilities: npt.ArrayLike, *, bins: int) -> Scores:
    """Multiclass scores from class codes and an ``(n, K)`` probability matrix.

    Raises:
        PipelineError: Shapes differ, or the labels hold a single class.
    """
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    y = np.asarray(labels, dtype=np.int64)
    proba = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    if proba.ndim != 2 or proba.shape[0] != y.shape[0]:
        raise PipelineError(f"evaluate: {y.shape[0]} labels but probabilities {proba.shape}")
    k = proba.shape[1]
    present = [c for c in range(k) if np.any(y == c)]
    if len(present) < 2:
        raise PipelineError("evaluate: the holdout holds a single label class")
    onehot = np.eye(k, dtype=np.float64)[y]
    aucs = [float(roc_auc_score(onehot[:, c], proba[:, c])) for c in present]
    aps = [float(average_precision_score(onehot[:, c], proba[:, c])) for c in present]
    clipped = np.clip(proba, _EPS, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    predicted = np.argmax(proba, axis=1).astype(np.int64)
    confidence = proba[np.arange(y.size), predicted]
    calibration, ece = calibration_bins(confidence, (predicted == y).astype(np.float64), bins=bins)
    per_class = _per_class(y, predicted, n_classes=k)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y, predicted), 1)
    metrics = {
        "roc_auc": float(np.mean(aucs)),
        "pr_auc": float(np.mean(aps)),
        "log_loss": float(log_loss(y, clipped, labels=list(range(k)))),
        "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        "ece": ece,
        "accuracy": float(np.mean(predicted == y)),
        **_macro(per_class),
    }
    return Scores(
        metrics=metrics,
        calibration=calibration,
        matrix=matrix.tolist(),
        per_class=per_class,
    )


def score_regression(labels: npt.ArrayLike, predictions: npt.ArrayLike) -> Scores:
    """Regression scores of ``predictions`` against numeric ``labels``.

    Raises:
        PipelineError: Sizes differ, or a prediction is not finite.
    """
    y = np.asarray(labels, dtype=np.float64)
    pred = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if y.shape != pred.shape or y.ndim != 1:
        raise PipelineError(f"evaluate: {y.shape[0]} labels but {pred.shape[0]} predictions")
    if not np.all(np.isfinite(pred)):
        raise PipelineError("evaluate: the model predicted a value that is not finite")
    residual = y - pred
    total = float(np.sum((y - y.mean()) ** 2))
    metrics = {
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mae": float(np.mean(np.abs(residual))),
        "r2": 1.0 - float(np.sum(residual**2)) / total if total > 0 else 0.0,
    }
    nonzero = y != 0
    if nonzero.any():
        metrics["mape"] = float(np.mean(np.abs(residual[nonzero] / y[nonzero])))
    for q, value in zip(QUANTILES, np.percentile(residual, QUANTILES), strict=True):
        metrics[f"residual_q{q:02d}"] = float(value)
    return Scores(metrics=metrics)


def calibration_bins(
    confidence: F64, outcome: F64, *, bins: int
) -> tuple[list[CalibrationBin], float]:
    """Reliability curve of predicted ``confidence`` against 0/1 ``outcome``, and its ECE."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    out: list[CalibrationBin] = []
    ece = 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        mean_p = frac = None
        if count:
            mean_p = float(confidence[members].mean())
            frac = float(outcome[members].mean())
            ece += count / confidence.size * abs(mean_p - frac)
        out.append(
            CalibrationBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=count,
                mean_predicted=mean_p,
                fraction_positive=frac,
            )
        )
    return out, float(ece) if math.isfinite(ece) else float("nan")


def _per_class(y: I64, predicted: I64, *, n_classes: int) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for c in range(n_classes):
        tp = float(np.sum((predicted == c) & (y == c)))
        called, actual = float(np.sum(predicted == c)), float(np.sum(y == c))
        precision = tp / called if called else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = {"precision": precision, "recall": recall, "f1": f1, "support": actual}
    return out


def _macro(per_class: dict[int, dict[str, float]]) -> dict[str, float]:
    present = [row for row in per_class.values() if row["support"] > 0] or list(per_class.values())
    return {
        f"{name}_macro": float(np.mean([row[name] for row in present]))
        for name in ("precision", "recall", "f1")
    }


def class_probabilities(estimator: Any, x: Any, *, n_classes: int) -> F64:
    """``predict_proba`` of a classifier as an ``(n, n_classes)`` float matrix.

    Raises:
        PipelineError: The estimator failed or gave another number of columns.
    """
    try:
        proba = np.asarray(estimator.predict_proba(x), dtype=np.float64)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise PipelineError(f"evaluate: prediction failed: {exc}") from exc
    if proba.ndim != 2 or proba.shape[1] != n_classes:
        raise PipelineError(
            f"evaluate: predict_proba gave shape {proba.shape}, expected {n_classes} columns"
        )
    return proba


def predicted_values(estimator: Any, x: Any) -> F64:
    """``predict`` of a regressor as a float vector.

    Raises:
        PipelineError: The estimator failed.
    """
    try:
        return np.asarray(estimator.predict(x), dtype=np.float64).reshape(-1)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise PipelineError(f"evaluate: prediction failed: {exc}") from exc
