"""Step 4, evaluate: score the candidate on the time-based holdout, per task.

The metrics are computed by :mod:`model_build.pipeline.scoring`; the report also holds the
confusion matrix, per-class precision/recall/F1, the reliability curve and permutation
importance (the drop in ROC AUC for binary, the rise in log loss for multiclass and in RMSE for
regression when a feature is shuffled). :func:`write_evaluation` writes ``evaluation.json``; the
plots are drawn by :mod:`model_build.pipeline.plots`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from model_build.pipeline.scoring import (
    CalibrationBin,
    Scores,
    class_probabilities,
    predicted_values,
    score,
    score_multiclass,
    score_regression,
)
from model_build.pipeline.steps.train import thread_limit
from model_bundle.task import Task

if TYPE_CHECKING:
    from model_build.definition.schema import ModelDefinition
    from model_build.pipeline.steps.train import SplitInfo

__all__ = ["EVALUATION_FILE", "Evaluation", "FeatureImportance", "evaluate_model", "score"]

EVALUATION_FILE: Final = "evaluation.json"


@dataclass(frozen=True)
class FeatureImportance:
    """Permutation importance of one feature.

    Attributes:
        feature: Feature name.
        mean: Mean score drop when the feature is shuffled (see the module docs).
        std: Standard deviation over the repeats.
    """

    feature: str
    mean: float
    std: float


@dataclass(frozen=True)
class Evaluation:
    """The candidate's evaluation on the holdout.

    Attributes:
        task: What the model predicts.
        metrics: The registered metrics (see ``evaluate.metrics``), by name.
        threshold: Binary decision threshold; None for the other tasks.
        confusion: Binary confusion counts at the threshold (``tp``, ``fp``, ``tn``, ``fn``).
        calibration: Reliability curve bins (classification).
        importance: Permutation importance, most important first.
        split: The train/holdout split.
        classes: Class labels (classification), else None.
        matrix: Confusion matrix by class (rows true, columns predicted), classification.
        per_class: Per class label (as text): precision, recall, F1 and support.
        curves: Arrays the plots draw (ROC and PR points, predictions), not serialized.
    """

    task: Task
    metrics: dict[str, float]
    threshold: float | None
    confusion: dict[str, int]
    calibration: list[CalibrationBin]
    importance: list[FeatureImportance]
    split: SplitInfo
    classes: list[Any] | None = None
    matrix: list[list[int]] = field(default_factory=list)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (no curves: they are in the plots)."""
        return {
            "task": str(self.task),
            "metrics": dict(self.metrics),
            "threshold": self.threshold,
            "classes": self.classes,
            "confusion": dict(self.confusion),
            "confusion_matrix": [list(row) for row in self.matrix],
            "per_class": {k: dict(v) for k, v in self.per_class.items()},
            "calibration": [asdict(b) for b in self.calibration],
            "feature_importance": [asdict(i) for i in self.importance],
            "split": asdict(self.split),
        }


def holdout_scores(
    estimator: Any,
    x: pd.DataFrame,
    y: np.ndarray[Any, Any],
    *,
    task: Task,
    classes: list[Any] | None,
    threshold: float | None,
    bins: int,
) -> tuple[Scores, dict[str, Any]]:
    """Scores of ``estimator`` on ``x`` against ``y`` (class codes, or values), and its outputs.

    Raises:
        PipelineError: Prediction failed or the holdout holds a single class.
    """
    if task is Task.REGRESSION:
        pred = predicted_values(estimator, x)
        return score_regression(y, pred), {
            "actual": np.asarray(y, dtype=np.float64),
            "predicted": pred,
        }
    assert classes is not None
    proba = class_probabilities(estimator, x, n_classes=len(classes))
    if task is Task.BINARY:
        p = proba[:, 1]
        return score(y, p, threshold=0.5 if threshold is None else threshold, bins=bins), {"p": p}
    return score_multiclass(y, proba, bins=bins), {"proba": proba}


def evaluate_model(
    *,
    estimator: Any,
    holdout: pd.DataFrame,
    features: list[str],
    label: str,
    split: SplitInfo,
    definition: ModelDefinition,
    classes: list[Any] | None = None,
) -> Evaluation:
    """Score a fitted estimator on the holdout, with curves and permutation importance.

    ``features`` are the estimator's ordered inputs; ``split`` is the split the holdout came
    from; ``classes`` are the class labels of a classifier (``predict_proba`` column order).

    Raises:
        PipelineError: Prediction failed or the holdout holds a single class.
    """
    from sklearn.inspection import permutation_importance

    task, settings = definition.task, definition.evaluate
    x = holdout[features]
    y = label_codes(holdout[label], task=task, classes=classes)
    with thread_limit(definition.train.n_threads):
        scores, outputs = holdout_scores(
            estimator, x, y, task=task, classes=classes, threshold=definition.threshold,
            bins=settings.calibration_bins,
        )  # fmt: skip
        result = permutation_importance(
            estimator,
            x,
            y,
            scoring=_scorer(task, n_classes=len(classes or [])),
            n_repeats=settings.permutation_repeats,
            random_state=definition.train.seed,
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
    wanted = definition.registered_metrics()
    names = [str(c) for c in classes] if classes is not None else []
    return Evaluation(
        task=task,
        metrics={name: scores.metrics[name] for name in wanted if name in scores.metrics},
        threshold=definition.threshold,
        confusion=scores.confusion,
        calibration=scores.calibration,
        importance=importance,
        split=split,
        classes=classes,
        matrix=scores.matrix,
        per_class={names[code]: row for code, row in scores.per_class.items()},
        curves=_curves(task, y, outputs, names=names),
    )


def label_codes(
    values: pd.Series, *, task: Task, classes: list[Any] | None
) -> np.ndarray[Any, Any]:
    """Class codes (index in ``classes``) of classification labels, floats for regression."""
    if task is Task.REGRESSION or classes is None:
        return values.to_numpy(dtype=np.float64)
    codes = {value: index for index, value in enumerate(classes)}
    return values.map(codes).to_numpy(dtype=np.int64)


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


def _scorer(task: Task, *, n_classes: int) -> Callable[[Any, Any, Any], float]:
    """Permutation-importance scorer (higher is better) through the same prediction path."""
    from sklearn.metrics import log_loss, roc_auc_score

    def binary(estimator: Any, x: Any, y: Any) -> float:
        return float(roc_auc_score(y, class_probabilities(estimator, x, n_classes=2)[:, 1]))

    def multiclass(estimator: Any, x: Any, y: Any) -> float:
        proba = np.clip(class_probabilities(estimator, x, n_classes=n_classes), 1e-15, 1.0)
        proba /= proba.sum(axis=1, keepdims=True)
        return -float(log_loss(y, proba, labels=list(range(n_classes))))

    def regression(estimator: Any, x: Any, y: Any) -> float:
        residual = np.asarray(y, dtype=np.float64) - predicted_values(estimator, x)
        return -float(np.sqrt(np.mean(residual**2)))

    return {Task.BINARY: binary, Task.MULTICLASS: multiclass, Task.REGRESSION: regression}[task]


def _curves(
    task: Task, y: np.ndarray[Any, Any], outputs: dict[str, Any], *, names: list[str]
) -> dict[str, Any]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    if task is Task.REGRESSION:
        return dict(outputs)
    if task is Task.BINARY:
        fpr, tpr, _ = roc_curve(y, outputs["p"])
        precision, recall, _ = precision_recall_curve(y, outputs["p"])
        return dict(outputs) | {
            "roc": {names[1]: (fpr, tpr)},
            "pr": {names[1]: (recall, precision)},
        }
    roc: dict[str, Any] = {}
    pr: dict[str, Any] = {}
    for code, name in enumerate(names):
        truth = (y == code).astype(np.int64)
        if 0 < truth.sum() < truth.size:
            fpr, tpr, _ = roc_curve(truth, outputs["proba"][:, code])
            precision, recall, _ = precision_recall_curve(truth, outputs["proba"][:, code])
            roc[name], pr[name] = (fpr, tpr), (recall, precision)
    return dict(outputs) | {"roc": roc, "pr": pr}
