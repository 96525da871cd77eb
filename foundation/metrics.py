"""The metric registry: every metric Slipway computes, which way is better, how it is shown.

The ONE definition of a metric's direction. The build's gate, the registry comparison
(:mod:`model_build.registry.compare`), the deploy plan and the PR comments all ask this module,
production monitoring's quality check (:mod:`model_monitor.quality`) too, so ``rmse`` is "lower
is better" everywhere. It lives in the ground floor so every layer may ask it, and imports
nothing (safe for the CLI)::

    from foundation.metrics import METRICS, direction, format_metric, is_better, metrics_for

Tasks are named by their values (``binary``, ``multiclass``, ``regression``), which
:class:`model_bundle.task.Task` members equal.

Directions: ``higher`` (ROC AUC, R2...), ``lower`` (log loss, RMSE...) or ``none`` (residual
quantiles: they describe the errors, neither end is better). A metric without a direction can
be recorded and compared (the verdict is ``changed``), never gated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Direction = Literal["higher", "lower", "none"]

TASKS: Final = ("binary", "multiclass", "regression")
"""Every task name (the values of :class:`model_bundle.task.Task`)."""

_CLASSIFICATION: Final = frozenset({"binary", "multiclass"})
_BINARY: Final = frozenset({"binary"})
_REGRESSION: Final = frozenset({"regression"})


@dataclass(frozen=True)
class MetricSpec:
    """One metric.

    Attributes:
        name: Name in evaluation reports, the registry and model.yaml (``roc_auc``).
        title: Human name (``ROC AUC``).
        direction: Which way is better.
        tasks: Tasks that compute it.
        digits: Decimals shown (:func:`format_metric`).
        percent: Shown as a percentage (the value is a fraction: 0.12 is 12%).
        description: One line on what it measures.
    """

    name: str
    title: str
    direction: Direction
    tasks: frozenset[str]
    description: str
    digits: int = 4
    percent: bool = False

    @property
    def lower_is_better(self) -> bool:
        """True when a smaller value is better."""
        return self.direction == "lower"

    @property
    def gateable(self) -> bool:
        """Whether a gate threshold or a serving tolerance can use it (it has a direction)."""
        return self.direction != "none"


def _spec(*args: object, **kwargs: object) -> MetricSpec:
    return MetricSpec(*args, **kwargs)  # type: ignore[arg-type]


_ALL: Final = (
    _spec("roc_auc", "ROC AUC", "higher", _CLASSIFICATION,
          "area under the ROC curve (multiclass: one-vs-rest, macro average)"),
    _spec("pr_auc", "PR AUC", "higher", _CLASSIFICATION,
          "average precision (multiclass: one-vs-rest, macro average)"),
    _spec("log_loss", "log loss", "lower", _CLASSIFICATION, "cross-entropy of the probabilities"),
    _spec("brier", "Brier score", "lower", _CLASSIFICATION,
          "mean squared error of the probabilities (multiclass: summed over classes)"),
    _spec("ece", "ECE", "lower", _CLASSIFICATION,
          "expected calibration error, equal-width bins (multiclass: of the top label)"),
    _spec("accuracy", "accuracy", "higher", _CLASSIFICATION, "share of correct labels"),
    _spec("precision", "precision", "higher", _BINARY,
          "precision of the positive class at the threshold"),
    _spec("recall", "recall", "higher", _BINARY, "recall of the positive class at the threshold"),
    _spec("f1", "F1", "higher", _BINARY, "F1 of the positive class at the threshold"),
    _spec("precision_macro", "precision (macro)", "higher", _CLASSIFICATION,
          "precision per class, averaged"),
    _spec("recall_macro", "recall (macro)", "higher", _CLASSIFICATION,
          "recall per class, averaged"),
    _spec("f1_macro", "F1 (macro)", "higher", _CLASSIFICATION, "F1 per class, averaged"),
    _spec("rmse", "RMSE", "lower", _REGRESSION, "root mean squared error"),
    _spec("mae", "MAE", "lower", _REGRESSION, "mean absolute error"),
    _spec("r2", "R2", "higher", _REGRESSION, "coefficient of determination"),
    _spec("mape", "MAPE", "lower", _REGRESSION,
          "mean absolute percentage error (rows with a zero label left out)", percent=True),
    _spec("residual_q05", "residual 5%", "none", _REGRESSION,
          "5th percentile of label - prediction"),
    _spec("residual_q25", "residual 25%", "none", _REGRESSION,
          "25th percentile of label - prediction"),
    _spec("residual_q50", "residual median", "none", _REGRESSION,
          "median of label - prediction"),
    _spec("residual_q75", "residual 75%", "none", _REGRESSION,
          "75th percentile of label - prediction"),
    _spec("residual_q95", "residual 95%", "none", _REGRESSION,
          "95th percentile of label - prediction"),
)  # fmt: skip

METRICS: Final[Mapping[str, MetricSpec]] = MappingProxyType({m.name: m for m in _ALL})
"""Every metric by name, in report order (classification first, then regression)."""

ALIASES: Final[Mapping[str, str]] = MappingProxyType({"brier_score": "brier"})
"""Names older versions or other tools recorded, read as the metric they mean."""

HEADLINE: Final[Mapping[str, str]] = MappingProxyType(
    {"binary": "roc_auc", "multiclass": "roc_auc", "regression": "rmse"}
)
"""The one metric that sums a model up per task (shown first in tables)."""


def metric_spec(name: str) -> MetricSpec | None:
    """The registry entry of ``name`` (aliases resolved), or None for a metric it lacks."""
    return METRICS.get(ALIASES.get(name, name))


def direction(name: str) -> Direction:
    """Which way ``name`` is better; ``none`` for a metric without one or one not registered."""
    spec = metric_spec(name)
    return spec.direction if spec else "none"


def lower_is_better(name: str) -> bool:
    """True when a smaller value of ``name`` is better."""
    return direction(name) == "lower"


def describe_direction(name: str) -> str:
    """``higher is better``, ``lower is better`` or ``no better direction`` (for tables)."""
    found = direction(name)
    return "no better direction" if found == "none" else f"{found} is better"


def is_better(name: str, candidate: float, baseline: float) -> bool | None:
    """Whether ``candidate`` beats ``baseline`` on ``name``; None when it has no direction.

    Equal values are not better.
    """
    found = direction(name)
    if found == "none":
        return None
    return candidate < baseline if found == "lower" else candidate > baseline


def format_metric(name: str, value: float | None) -> str:
    """A metric value for people: its registry decimals (percent where it is one), ``-`` if None."""
    if value is None:
        return "-"
    spec = metric_spec(name)
    if spec is None:
        return f"{value:.4g}"
    if spec.percent:
        return f"{100 * value:.{max(spec.digits - 2, 1)}f}%"
    return f"{value:.{spec.digits}f}"


def _task(task: str) -> str:
    wanted = str(task)  # a Task member is a str whose str() is its value
    if wanted not in TASKS:
        raise ValueError(f"{task!r} is not a task; tasks: {', '.join(TASKS)}")
    return wanted


def metrics_for(task: str) -> list[str]:
    """Every metric the build computes for ``task``, in report order (the headline first).

    Raises:
        ValueError: ``task`` is not one of :data:`TASKS`.
    """
    wanted = _task(task)
    names = [name for name, spec in METRICS.items() if wanted in spec.tasks]
    head = HEADLINE[wanted]
    return [head, *(name for name in names if name != head)]


def check_metric(name: str, *, task: str, gate: bool = False) -> str | None:
    """Why ``name`` cannot be used for ``task`` (None when it can).

    With ``gate`` a metric must also have a direction (a threshold needs a side).
    """
    spec = metric_spec(name)
    wanted = _task(task)
    if spec is None:
        return f"unknown metric {name!r}; {wanted} metrics: {', '.join(metrics_for(wanted))}"
    if wanted not in spec.tasks:
        return (
            f"metric {name!r} is not computed for task {wanted}; "
            f"{wanted} metrics: {', '.join(metrics_for(wanted))}"
        )
    if gate and not spec.gateable:
        return f"metric {name!r} has no better direction, so it cannot be gated"
    return None
