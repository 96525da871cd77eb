"""Evaluation plots as PNG files, per task.

* classification: ``roc.png`` and ``pr.png`` (one curve per class for multiclass, one-vs-rest),
  ``calibration.png`` (reliability curve; top label for multiclass), ``confusion_matrix.png``;
* regression: ``predicted_vs_actual.png``, ``residuals.png`` (residual against prediction);
* every task: ``feature_importance.png``.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend
switch), so this works headless and in threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from model_bundle.task import Task

if TYPE_CHECKING:
    from model_build.pipeline.steps.evaluate import Evaluation

CLASSIFICATION_PLOTS: Final = (
    "roc.png", "pr.png", "calibration.png", "confusion_matrix.png", "feature_importance.png",
)  # fmt: skip
REGRESSION_PLOTS: Final = ("predicted_vs_actual.png", "residuals.png", "feature_importance.png")
_IMPORTANCE_AXIS: Final = {
    Task.BINARY: "Mean drop in ROC AUC",
    Task.MULTICLASS: "Mean rise in log loss",
    Task.REGRESSION: "Mean rise in RMSE",
}


def plot_files(task: Task) -> tuple[str, ...]:
    """The file names :func:`write_plots` writes for ``task``, in order."""
    return REGRESSION_PLOTS if task is Task.REGRESSION else CLASSIFICATION_PLOTS


def write_plots(evaluation: Evaluation, *, out_dir: Path) -> list[Path]:
    """Draw the task's evaluation plots into ``out_dir`` (created if needed); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if evaluation.task is Task.REGRESSION:
        paths = _regression(evaluation, out_dir=out_dir)
    else:
        paths = _classification(evaluation, out_dir=out_dir)
    paths.append(_importance(evaluation, out_dir=out_dir))
    return paths


def _classification(evaluation: Evaluation, *, out_dir: Path) -> list[Path]:
    metrics, curves = evaluation.metrics, evaluation.curves
    paths: list[Path] = []
    fig, ax = new_figure()
    for name, (fpr, tpr) in curves.get("roc", {}).items():
        ax.plot(fpr, tpr, label=_curve_label(evaluation, name, "AUC"))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    title = "ROC curve" if evaluation.task is Task.BINARY else "ROC curves (one-vs-rest)"
    if "roc_auc" in metrics:
        title += f", AUC {metrics['roc_auc']:.3f}"
    _finish(ax, title=title, x="False positive rate", y="True positive rate")
    paths.append(save_png(fig, out_dir / "roc.png"))

    fig, ax = new_figure()
    for name, (recall, precision) in curves.get("pr", {}).items():
        ax.plot(recall, precision, label=_curve_label(evaluation, name, "AP"))
    rate = evaluation.split.holdout_label_rate
    if evaluation.task is Task.BINARY and rate is not None:
        ax.axhline(rate, linestyle="--", color="grey", label="base rate")
    _finish(ax, title="Precision-recall curve", x="Recall", y="Precision")
    paths.append(save_png(fig, out_dir / "pr.png"))

    fig, ax = new_figure()
    filled = [b for b in evaluation.calibration if b.count]
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ece = f" (ECE {metrics['ece']:.3f})" if "ece" in metrics else ""
    ax.plot(
        [b.mean_predicted for b in filled],
        [b.fraction_positive for b in filled],
        marker="o",
        label=f"candidate{ece}",
    )
    observed = "Observed positives" if evaluation.task is Task.BINARY else "Top label correct"
    _finish(ax, title="Reliability curve", x="Mean predicted probability", y=observed)
    paths.append(save_png(fig, out_dir / "calibration.png"))

    names = [str(c) for c in evaluation.classes or []]
    size = max(4.5, 0.5 * len(names) + 2.5)
    fig, ax = new_figure(height=size, width=size + 0.5)
    matrix = evaluation.matrix or [[0]]
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for row, counts in enumerate(matrix):
        for column, count in enumerate(counts):
            ax.text(column, row, str(count), ha="center", va="center", fontsize=8)
    ax.set_title("Confusion matrix (holdout)")
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Actual")
    paths.append(save_png(fig, out_dir / "confusion_matrix.png"))
    return paths


def _regression(evaluation: Evaluation, *, out_dir: Path) -> list[Path]:
    import numpy as np

    actual = np.asarray(evaluation.curves.get("actual", []), dtype=np.float64)
    predicted = np.asarray(evaluation.curves.get("predicted", []), dtype=np.float64)
    metrics = evaluation.metrics
    paths: list[Path] = []
    fig, ax = new_figure()
    ax.scatter(actual, predicted, s=6, alpha=0.4, label="holdout rows")
    if actual.size:
        low, high = (
            float(min(actual.min(), predicted.min())),
            float(max(actual.max(), predicted.max())),
        )
        ax.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect")
    shown = ", ".join(f"{k} {metrics[k]:.3f}" for k in ("rmse", "r2") if k in metrics)
    ax.set_title(f"Predicted vs actual ({shown})" if shown else "Predicted vs actual")
    ax.set_xlabel("Actual")
    ax.set_ylabel("Predicted")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    paths.append(save_png(fig, out_dir / "predicted_vs_actual.png"))

    fig, ax = new_figure()
    ax.scatter(predicted, actual - predicted, s=6, alpha=0.4)
    ax.axhline(0.0, linestyle="--", color="grey")
    ax.set_title("Residuals (actual - predicted)")
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Residual")
    ax.grid(alpha=0.3)
    paths.append(save_png(fig, out_dir / "residuals.png"))
    return paths


def _importance(evaluation: Evaluation, *, out_dir: Path) -> Path:
    fig, ax = new_figure(height=max(3.0, 0.35 * len(evaluation.importance) + 1.0))
    ranked = list(reversed(evaluation.importance))
    ax.barh(
        [i.feature for i in ranked],
        [i.mean for i in ranked],
        xerr=[i.std for i in ranked],
        color="tab:blue",
    )
    ax.set_title("Permutation importance (holdout)")
    ax.set_xlabel(_IMPORTANCE_AXIS[evaluation.task])
    return save_png(fig, out_dir / "feature_importance.png")


def _curve_label(evaluation: Evaluation, name: str, what: str) -> str:
    if evaluation.task is Task.BINARY:
        key = "roc_auc" if what == "AUC" else "pr_auc"
        value = evaluation.metrics.get(key)
        return f"candidate ({what} {value:.3f})" if value is not None else "candidate"
    return f"class {name}"


def new_figure(height: float = 4.5, width: float = 6.0) -> tuple[Any, Any]:
    """A figure on the Agg canvas and its one axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _finish(ax: Any, *, title: str, x: str, y: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")


def save_png(fig: Any, path: Path) -> Path:
    """Write ``fig`` as a PNG without the time or software in its metadata; return ``path``."""
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    return path
