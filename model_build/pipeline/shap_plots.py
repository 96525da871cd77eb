"""SHAP plots of the evaluation report, drawn with matplotlib's object API (no pyplot).

* ``shap_importance.png``: mean absolute SHAP value per feature (global importance);
* ``shap_dependence_<feature>.png``: per row, the feature's value against its SHAP value, for
  the most important features (a strip per category for a string feature). For a multiclass
  model the values of every class are summed in absolute value (importance) or shown for the
  first class (dependence), as the title says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from model_build.pipeline.plots import new_figure, save_png

if TYPE_CHECKING:
    from model_bundle.explain import Explanation

IMPORTANCE_PLOT = "shap_importance.png"


def dependence_file(feature: str) -> str:
    """The dependence plot's file name for ``feature`` (unsafe characters become ``_``)."""
    return f"shap_dependence_{re.sub(r'[^A-Za-z0-9_.-]', '_', feature)}.png"


def write_shap_plots(explanation: Explanation, *, out_dir: Path, dependence: int) -> list[Path]:
    """Draw the importance plot and ``dependence`` dependence plots; return their paths."""
    import numpy as np

    out_dir.mkdir(parents=True, exist_ok=True)
    ranked = explanation.importance()
    fig, ax = new_figure(height=max(3.0, 0.35 * len(ranked) + 1.0))
    shown = list(reversed(ranked))
    ax.barh([name for name, _ in shown], [value for _, value in shown], color="tab:purple")
    what = {"raw_score": "raw score", "probability": "probability", "prediction": "prediction"}
    ax.set_title(f"SHAP importance ({explanation.method}, {len(explanation.data)} rows)")
    ax.set_xlabel(f"Mean |SHAP value| ({what.get(explanation.kind, explanation.kind)})")
    paths = [save_png(fig, out_dir / IMPORTANCE_PLOT)]
    index = {name: i for i, name in enumerate(explanation.features)}
    for name, _ in ranked[:dependence]:
        column = explanation.data[name]
        values = explanation.values[:, index[name], 0]
        fig, ax = new_figure()
        if column.dtype == object:
            labels = sorted({str(v) for v in column.tolist()})
            position = {label: i for i, label in enumerate(labels)}
            x = np.array([position[str(v)] for v in column.tolist()], dtype=float)
            jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(x))
            ax.scatter(x + jitter, values, s=8, alpha=0.5)
            ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        else:
            ax.scatter(column.to_numpy(dtype=float), values, s=8, alpha=0.5)
        ax.axhline(0.0, linestyle="--", color="grey")
        output = explanation.outputs[0]
        suffix = f" (output {output})" if len(explanation.outputs) > 1 else ""
        ax.set_title(f"SHAP dependence: {name}{suffix}")
        ax.set_xlabel(name)
        ax.set_ylabel("SHAP value")
        ax.grid(alpha=0.3)
        paths.append(save_png(fig, out_dir / dependence_file(name)))
    return paths
