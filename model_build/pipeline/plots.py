"""Evaluation plots as PNG files: ROC, precision-recall, reliability curve, feature importance.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend
switch), so this works headless and in threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_build.pipeline.steps.evaluate import Evaluation

PLOT_FILES = ("roc.png", "pr.png", "calibration.png", "feature_importance.png")


def write_plots(evaluation: Evaluation, *, out_dir: Path) -> list[Path]:
    """Draw the four evaluation plots into ``out_dir`` (created if needed); return their paths.

    The files are ``roc.png``, ``pr.png``, ``calibration.png`` and ``feature_importance.png``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = evaluation.metrics
    paths: list[Path] = []

    fig, ax = _figure()
    fpr, tpr = evaluation.roc
    ax.plot(fpr, tpr, label=f"candidate (AUC {metrics['roc_auc']:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    _finish(ax, title="ROC curve", x="False positive rate", y="True positive rate")
    paths.append(_save(fig, out_dir / PLOT_FILES[0]))

    fig, ax = _figure()
    recall, precision = evaluation.pr
    ax.plot(recall, precision, label=f"candidate (AP {metrics['pr_auc']:.3f})")
    ax.axhline(evaluation.split.holdout_label_rate, linestyle="--", color="grey", label="base rate")
    _finish(ax, title="Precision-recall curve", x="Recall", y="Precision")
    paths.append(_save(fig, out_dir / PLOT_FILES[1]))

    fig, ax = _figure()
    filled = [b for b in evaluation.calibration if b.count]
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(
        [b.mean_predicted for b in filled],
        [b.fraction_positive for b in filled],
        marker="o",
        label=f"candidate (ECE {metrics['ece']:.3f})",
    )
    _finish(ax, title="Reliability curve", x="Mean predicted probability", y="Observed positives")
    paths.append(_save(fig, out_dir / PLOT_FILES[2]))

    fig, ax = _figure(height=max(3.0, 0.35 * len(evaluation.importance) + 1.0))
    ranked = list(reversed(evaluation.importance))
    ax.barh(
        [i.feature for i in ranked],
        [i.mean for i in ranked],
        xerr=[i.std for i in ranked],
        color="tab:blue",
    )
    ax.set_title("Permutation importance (ROC AUC drop on the holdout)")
    ax.set_xlabel("Mean drop in ROC AUC")
    paths.append(_save(fig, out_dir / PLOT_FILES[3]))
    return paths


def _figure(height: float = 4.5) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _finish(ax: Any, *, title: str, x: str, y: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    return path
