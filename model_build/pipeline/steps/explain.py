"""Step 4b, explain: SHAP values of the candidate on holdout rows, for the evaluation report.

The values come from :class:`model_bundle.explain.Explainer` (TreeExplainer for tree models,
the permutation method otherwise), on up to ``explain.rows`` holdout rows (a seeded sample).
The step writes ``explanations/explanations.json`` (method, what is explained, expected value,
global importance: the mean absolute SHAP value per feature) and the plots of
:mod:`model_build.pipeline.shap_plots`: ``shap_importance.png`` and one
``shap_dependence_<feature>.png`` per most important feature (``explain.dependence_plots``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from model_build.pipeline.steps.train import thread_limit

if TYPE_CHECKING:
    import pandas as pd

    from model_build.definition.schema import ModelDefinition
    from model_bundle.bundle import ModelBundle

EXPLANATIONS_DIR: Final = "explanations"
EXPLANATIONS_FILE: Final = "explanations.json"


@dataclass(frozen=True)
class ExplanationReport:
    """The global explanation of a candidate.

    Attributes:
        method: ``tree`` or ``permutation``.
        kind: What the values add up to (``raw_score``, ``probability``, ``prediction``).
        outputs: The explained outputs (the positive class, every class, ``prediction``).
        expected_value: The base value per output.
        rows: Holdout rows explained.
        importance: ``{"feature", "mean_abs_shap"}`` per feature, most important first.
        plots: The plot files, relative to the run folder.
        note: Why the model-agnostic method was used, when it was.
    """

    method: str
    kind: str
    outputs: list[str]
    expected_value: list[float]
    rows: int
    importance: list[dict[str, Any]]
    plots: list[str] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``explanations.json``, the ``explanations`` of ``evaluation.json``)."""
        return {
            "method": self.method,
            "kind": self.kind,
            "outputs": list(self.outputs),
            "expected_value": list(self.expected_value),
            "rows": self.rows,
            "importance": [dict(item) for item in self.importance],
            "plots": list(self.plots),
            "note": self.note,
        }


def explain_candidate(
    *, bundle: ModelBundle, holdout: pd.DataFrame, definition: ModelDefinition, run_folder: Path
) -> ExplanationReport:
    """Explain the candidate on holdout rows; write the report and plots under ``run_folder``.

    Raises:
        ValueError: The estimator is no tree model and the bundle has no background rows.
    """
    from model_build.pipeline.shap_plots import write_shap_plots
    from model_bundle.explain import Explainer

    settings = definition.explain
    rows = holdout
    if len(rows) > settings.rows:
        rows = rows.sample(n=settings.rows, random_state=definition.train.seed).sort_index()
    with thread_limit(definition.train.n_threads):
        explainer = Explainer(
            estimator=bundle.estimator,
            features=list(bundle.features),
            task=bundle.task,
            classes=bundle.classes,
            background=bundle.background,
            seed=definition.train.seed,
        )
        explanation = explainer.explain(rows)
    out_dir = run_folder / EXPLANATIONS_DIR
    plots = write_shap_plots(explanation, out_dir=out_dir, dependence=settings.dependence_plots)
    report = ExplanationReport(
        method=explanation.method,
        kind=explanation.kind,
        outputs=list(explanation.outputs),
        expected_value=[float(v) for v in explanation.expected],
        rows=len(rows),
        importance=[
            {"feature": name, "mean_abs_shap": value} for name, value in explanation.importance()
        ],
        plots=[str(p.relative_to(run_folder)) for p in plots],
        note=explainer.note,
    )
    (out_dir / EXPLANATIONS_FILE).write_text(
        json.dumps(report.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"
    )
    return report
