"""Step 4, evaluate: score the candidate on the time-based holdout.

Metrics: ROC AUC, PR AUC (average precision), log loss, Brier score, expected calibration error
(ECE, equal-width bins), and precision / recall / F1 / accuracy at the decision threshold. The
report also holds the confusion matrix, the reliability curve bins and permutation importance
(ROC AUC drop on the holdout). :func:`write_evaluation` writes ``evaluation.json``; the plots are
drawn by :mod:`model_build.pipeline.plots`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from model_build.errors import PipelineError
from model_build.pipeline.steps.train import thread_limit

if TYPE_CHECKING:
    from model_build.pipeline.params import BuildParams
    from model_build.pipeline.steps.train import SplitInfo

EVALUATION_FILE: Final = "evaluation.json"
_EPS: Final = 1e-15

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the reliability curve.

    Attributes:
        lower: Bin lower edge (inclusive).
        upper: Bin upper edge (exclusive, except the last bin).
        count: Holdout rows whose predicted probability falls in the bin.
        mean_predicted: Mean predicted probability in the bin (None if empty).
        fraction_positive: Observed share of positives in the bin (None if empty).
    """

    lower: float
    upper: float
    count: int
    mean_predicted: float | None
    fraction_positive: float | None


@dataclass(frozen=True)
class FeatureImportance:
    """Permutation importance of one feature.

    Attributes:
        feature: Feature name.
        mean: Mean ROC AUC drop when the feature is shuffled.
        std: Standard deviation over the repeats.
    """

    feature: str
    mean: float
    std: float


@dataclass(frozen=True)
class Scores:
    """Threshold-free and thresholded metrics of predictions against labels.

    Attributes:
        metrics: ``roc_auc``, ``pr_auc``, ``log_loss``, ``brier``, ``ece``, ``precision``,
            ``recall``, ``f1``, ``accuracy``.
        confusion: ``tp``, ``fp``, ``tn``, ``fn`` at the threshold.
        calibration: Reliability curve bins.
    """

    metrics: dict[str, float]
    confusion: dict[str, int]
    calibration: list[CalibrationBin]


@dataclass(frozen=True)
class Evaluation:
    """The candidate's evaluation on the holdout.

    Attributes:
        metrics: Scalar metrics (see :class:`Scores`).
        threshold: Decision threshold used for the thresholded metrics.
        confusion: Confusion matrix counts at the threshold.
        calibration: Reliability curve bins.
        importance: Permutation importance, most important first.
        split: The train/holdout split.
        roc: ``(fpr, tpr)`` points, for plots.
        pr: ``(recall, precision)`` points, for plots.
    """

    metrics: dict[str, float]
    threshold: float
    confusion: dict[str, int]
    calibration: list[CalibrationBin]
    importance: list[FeatureImportance]
    split: SplitInfo
    roc: tuple[F64, F64] = field(repr=False)
    pr: tuple[F64, F64] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (no curves: they are in the plots)."""
        return {
            "metrics": dict(self.metrics),
            "threshold": self.threshold,
            "confusion": dict(self.confusion),
            "calibration": [asdict(b) for b in self.calibration],
            "feature_importance": [asdict(i) for i in self.importance],
            "split": asdict(self.split),
        }


def score(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, *, threshold: float, bins: int
) -> Scores:
    """Compute every holdout metric from 0/1 ``labels`` and predicted P(label = 1).

    ``threshold`` decides precision, recall, F1 and accuracy; ``bins`` are equal-width calibration
    bins on [0, 1]. Returns the metrics, confusion counts and calibration bins.

    Raises:
        PipelineError: Sizes differ, or the labels hold a single class.
    """
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        log_loss,
        roc_auc_score,
    )

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
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    calibration, ece = _calibration(y, p, bins=bins)
    metrics = {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": ece,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "accuracy": float((tp + tn) / y.size),
    }
    return Scores(
        metrics=metrics, confusion={"tp": tp, "fp": fp, "tn": tn, "fn": fn}, calibration=calibration
    )


def evaluate_model(
    *,
    estimator: Any,
    holdout: pd.DataFrame,
    features: list[str],
    label: str,
    split: SplitInfo,
    params: BuildParams,
) -> Evaluation:
    """Score a fitted estimator on the holdout, with curves and permutation importance.

    ``features`` are the estimator's ordered inputs; ``split`` is the split the holdout came from;
    ``params`` give the threshold, bins, repeats, seed and threads.

    Raises:
        PipelineError: Prediction failed or the holdout holds a single class.
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import precision_recall_curve, roc_curve

    x, y = holdout[features], holdout[label].to_numpy(dtype=np.int64)
    settings = params.evaluate
    with thread_limit(params.train.n_threads):
        try:
            p = np.asarray(estimator.predict_proba(x)[:, 1], dtype=np.float64)
        except (ValueError, TypeError, KeyError) as exc:
            raise PipelineError(f"evaluate: prediction failed: {exc}") from exc
        scores = score(y, p, threshold=settings.threshold, bins=settings.calibration_bins)
        result = permutation_importance(
            estimator,
            x,
            y,
            scoring="roc_auc",
            n_repeats=settings.permutation_repeats,
            random_state=params.train.seed,
        )
    importance = sorted(
        (
            FeatureImportance(feature=name, mean=float(m), std=float(s))
            for name, m, s in zip(
                features, result.importances_mean, result.importances_std, strict=True
            )
        ),
        key=lambda item: (-item.mean, item.feature),
    )
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    return Evaluation(
        metrics=scores.metrics,
        threshold=settings.threshold,
        confusion=scores.confusion,
        calibration=scores.calibration,
        importance=importance,
        split=split,
        roc=(np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)),
        pr=(np.asarray(recall, dtype=np.float64), np.asarray(precision, dtype=np.float64)),
    )


def write_evaluation(
    evaluation: Evaluation, *, out_dir: Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``evaluation.json`` into ``out_dir`` (sorted keys: equal evaluations, equal bytes).

    ``extra`` adds top-level sections (e.g. ``lineage``, ``gate``). Returns the file path.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {**evaluation.to_dict(), **(extra or {})}
    path = out_dir / EVALUATION_FILE
    path.write_text(json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return path


def _calibration(
    y: npt.NDArray[np.int64], p: F64, *, bins: int
) -> tuple[list[CalibrationBin], float]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    out: list[CalibrationBin] = []
    ece = 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        if count:
            mean_p = float(p[members].mean())
            frac = float(y[members].mean())
            ece += count / y.size * abs(mean_p - frac)
        out.append(
            CalibrationBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=count,
                mean_predicted=mean_p if count else None,
                fraction_positive=frac if count else None,
            )
        )
    return out, float(ece) if math.isfinite(ece) else float("nan")
