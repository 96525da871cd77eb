"""Bias metrics for a declared sensitive attribute, as SageMaker Clarify defines them.

Rows split into facet *d* (the attribute takes one of ``bias.facet``'s values: the sensitive
group) and facet *a* (every other row). An outcome is positive when the label (observed) or the
predicted label is one of ``bias.positive`` (default: the positive class of a binary model), or,
for regression, at or above ``bias.label_threshold``. With ``n`` rows, ``q`` the share of
observed positive labels, ``q̂`` the share of predicted positive labels and ``TPR`` the recall
(predicted positive among observed positive), per facet:

Pre-training (on the whole training set, observed labels only):

* ``class_imbalance`` (Clarify CI) = ``(n_a - n_d) / (n_a + n_d)``, in [-1, 1];
* ``label_proportion_difference`` (Clarify DPL) = ``q_a - q_d``.

Post-training (on the holdout, with the candidate's predicted labels):

* ``disparate_impact`` (Clarify DI) = ``q̂_d / q̂_a`` (1 is parity; the four-fifths rule asks
  for at least 0.8);
* ``positive_rate_difference`` (Clarify DPPL, difference in positive proportions in predicted
  labels) = ``q̂_a - q̂_d``;
* ``equal_opportunity_difference`` (Clarify RD, recall difference) = ``TPR_a - TPR_d``.

A metric whose denominator is zero (an empty facet, no predicted positives in *a*, no observed
positives in a facet) is None and explained in ``notes``; a gate bound on it then fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from model_bundle.task import Task

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from model_build.definition.schema import BiasSection
    from model_build.pipeline.steps.gate import GateCheck

BIAS_METRICS: Final = {
    "class_imbalance": ("CI", "pre-training"),
    "label_proportion_difference": ("DPL", "pre-training"),
    "disparate_impact": ("DI", "post-training"),
    "positive_rate_difference": ("DPPL", "post-training"),
    "equal_opportunity_difference": ("RD", "post-training"),
}
"""Every bias metric: its SageMaker Clarify abbreviation and stage."""


@dataclass(frozen=True)
class BiasReport:
    """Bias metrics of one candidate.

    Attributes:
        attribute: The sensitive attribute.
        facet: Its values forming facet *d*.
        metrics: Every metric of :data:`BIAS_METRICS`, None when it cannot be computed.
        counts: Rows per facet (``training_a``, ``training_d``, ``holdout_a``, ``holdout_d``).
        notes: Why a metric is None, one line each.
    """

    attribute: str
    facet: list[Any]
    metrics: dict[str, float | None]
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``bias.json``, the ``bias`` section of ``evaluation.json``)."""
        return {
            "attribute": self.attribute,
            "facet": list(self.facet),
            "metrics": dict(self.metrics),
            "clarify": {name: code for name, (code, _) in BIAS_METRICS.items()},
            "counts": dict(self.counts),
            "notes": list(self.notes),
        }


def pre_training(
    *, facet_d: npt.NDArray[np.bool_], positive: npt.NDArray[np.bool_]
) -> tuple[dict[str, float | None], list[str]]:
    """``class_imbalance`` and ``label_proportion_difference`` of observed labels."""
    n_d = int(facet_d.sum())
    n_a = int(facet_d.size - n_d)
    notes: list[str] = []
    ci = (n_a - n_d) / (n_a + n_d) if n_a + n_d else None
    q_a = _share(positive, ~facet_d)
    q_d = _share(positive, facet_d)
    dpl = None if q_a is None or q_d is None else q_a - q_d
    if dpl is None:
        notes.append("label_proportion_difference: a facet has no training rows")
    return {"class_imbalance": ci, "label_proportion_difference": dpl}, notes


def post_training(
    *,
    facet_d: npt.NDArray[np.bool_],
    positive: npt.NDArray[np.bool_],
    predicted: npt.NDArray[np.bool_],
) -> tuple[dict[str, float | None], list[str]]:
    """``disparate_impact``, ``positive_rate_difference``, ``equal_opportunity_difference``."""
    notes: list[str] = []
    qa, qd = _share(predicted, ~facet_d), _share(predicted, facet_d)
    if qa is None or qd is None:
        notes.append("disparate_impact, positive_rate_difference: a facet has no holdout rows")
        di = dppl = None
    else:
        dppl = qa - qd
        di = qd / qa if qa > 0 else None
        if di is None:
            notes.append("disparate_impact: facet a has no predicted positives")
    tpr_a = _share(predicted, ~facet_d & positive)
    tpr_d = _share(predicted, facet_d & positive)
    eod = None if tpr_a is None or tpr_d is None else tpr_a - tpr_d
    if eod is None:
        notes.append("equal_opportunity_difference: a facet has no observed positives")
    metrics = {
        "disparate_impact": di,
        "positive_rate_difference": dppl,
        "equal_opportunity_difference": eod,
    }
    return metrics, notes


def measure_bias(
    *,
    bias: BiasSection,
    task: Task,
    classes: list[Any] | None,
    training: pd.DataFrame,
    holdout: pd.DataFrame,
    label: str,
    predicted: npt.NDArray[Any],
) -> BiasReport:
    """The bias report of a candidate.

    ``training`` is the whole training set and ``holdout`` the evaluated rows (both carry
    ``bias.attribute`` and ``label``); ``predicted`` are the candidate's predicted labels on
    the holdout (class labels, or values for regression), in holdout order.
    """
    facet = list(bias.facet)
    d_train = _in_facet(training[bias.attribute], facet)
    d_hold = _in_facet(holdout[bias.attribute], facet)
    is_positive = _positive_rule(bias, task=task, classes=classes)
    pre, notes = pre_training(facet_d=d_train, positive=is_positive(training[label].to_numpy()))
    post, more = post_training(
        facet_d=d_hold,
        positive=is_positive(holdout[label].to_numpy()),
        predicted=is_positive(np.asarray(predicted)),
    )
    counts = {
        "training_a": int((~d_train).sum()),
        "training_d": int(d_train.sum()),
        "holdout_a": int((~d_hold).sum()),
        "holdout_d": int(d_hold.sum()),
    }
    return BiasReport(
        attribute=bias.attribute,
        facet=facet,
        metrics={**pre, **post},
        counts=counts,
        notes=notes + more,
    )


def bias_checks(report: BiasReport, *, bias: BiasSection) -> list[GateCheck]:
    """One gate check per bound of ``bias.thresholds`` (a metric that is None fails)."""
    from model_build.pipeline.steps.gate import GateCheck

    checks: list[GateCheck] = []
    for metric, limit in bias.thresholds.items():
        value = report.metrics.get(metric)
        for bound, allowed in (("minimum", limit.min), ("maximum", limit.max)):
            if allowed is None:
                continue
            if value is None:
                checks.append(
                    GateCheck(
                        metric=metric, kind="bias", candidate=None, limit=allowed,
                        passed=False,
                        message=f"{metric} ({bias.attribute}) cannot be computed; "
                        f"the {bound} {allowed:.4f} cannot be checked",
                    )
                )  # fmt: skip
                continue
            ok = value >= allowed if bound == "minimum" else value <= allowed
            verdict = "meets" if ok else "misses"
            checks.append(
                GateCheck(
                    metric=metric, kind="bias", candidate=value, limit=allowed, passed=ok,
                    message=f"{metric} ({bias.attribute}) {value:.4f} {verdict} the {bound} "
                    f"{allowed:.4f}",
                )
            )  # fmt: skip
    return checks


def _share(values: npt.NDArray[np.bool_], rows: npt.NDArray[np.bool_]) -> float | None:
    count = int(rows.sum())
    return float(values[rows].sum() / count) if count else None


def _in_facet(values: pd.Series, facet: list[Any]) -> npt.NDArray[np.bool_]:
    wanted = {_plain(v) for v in facet} | {str(v) for v in facet}
    return np.fromiter(
        (_plain(v) in wanted for v in values.tolist()), dtype=bool, count=len(values)
    )


def _positive_rule(bias: BiasSection, *, task: Task, classes: list[Any] | None) -> Any:
    if task is Task.REGRESSION:
        threshold = float(bias.label_threshold if bias.label_threshold is not None else 0.0)

        def at_or_above(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
            return np.asarray(values, dtype=np.float64) >= threshold

        return at_or_above
    labels = bias.positive if bias.positive is not None else [(classes or [0, 1])[1]]
    wanted = {_plain(v) for v in labels}

    def among(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
        return np.fromiter((_plain(v) in wanted for v in values.tolist()), dtype=bool)

    return among


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value
