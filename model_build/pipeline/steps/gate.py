"""Step 5, gate: absolute thresholds, and "not worse than the version serving".

A pure step: it reads no file and asks no registry. Absolute checks come from ``model.yaml``
(``gate.thresholds``: a minimum for a metric where higher is better, a maximum where lower is
better, as :mod:`foundation.metrics` says). The serving check compares the candidate with
a :class:`Baseline`, the metrics of the version serving in an environment, which the caller
found (the CLI reads the environment's manifest; :mod:`model_build.pipeline.serving` looks the
version up and re-scores it on this build's holdout). When nothing is compared with, the caller
says so with a :class:`NoServingModel` and its reason. A candidate may be worse than the
serving version by at most ``gate.serving_tolerance[metric]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from foundation.metrics import direction
from model_build.errors import GateFailedError, PipelineError

if TYPE_CHECKING:
    from model_build.definition.schema import GateSection
    from model_build.registry.protocol import ModelVersion

_SLACK = 1e-12


@dataclass(frozen=True)
class GateCheck:
    """One comparison the gate made.

    Attributes:
        metric: Metric name.
        kind: ``absolute`` (a threshold from model.yaml), ``serving`` (against the serving
            version) or ``bias`` (a bound of ``bias.thresholds``).
        candidate: The candidate's value (None: a bias metric that cannot be computed).
        limit: The value the candidate had to reach (minimum or maximum).
        passed: Whether it did.
        message: One line with the numbers.
        baseline: The serving version's value (serving checks only).
        tolerance: Allowed gap to the serving version (serving checks only).
    """

    metric: str
    kind: Literal["absolute", "serving", "bias"]
    candidate: float | None
    limit: float
    passed: bool
    message: str
    baseline: float | None = None
    tolerance: float | None = None


@dataclass(frozen=True)
class Baseline:
    """The serving version the candidate is compared with.

    Attributes:
        ref: ``<model>:<version>``.
        metrics: Its metrics.
        source: ``holdout`` (recomputed on this build's holdout) or ``registry`` (as recorded).
        environment: Where it serves (``prod``...), named in the messages.
    """

    ref: str
    metrics: dict[str, float]
    source: Literal["holdout", "registry"]
    environment: str


@dataclass(frozen=True)
class NoServingModel:
    """An explicit "nothing to compare with": the gate runs its absolute checks only.

    Attributes:
        reason: Why, in one line (``prod serves no model yet``...).
        warning: True when a comparison was wanted but could not be made (a fallback the
            build result and the CLI show as a warning), False when none was meant to be made.
    """

    reason: str
    warning: bool = False


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict.

    Attributes:
        passed: True when every check passed.
        checks: Every check, absolute ones first.
        compared_with: The serving version's baseline, or why there was none.
    """

    passed: bool
    checks: list[GateCheck]
    compared_with: Baseline | NoServingModel

    @property
    def baseline(self) -> Baseline | None:
        """The serving version compared with, or None."""
        return self.compared_with if isinstance(self.compared_with, Baseline) else None

    @property
    def serving_passed(self) -> bool:
        """True when every serving check passed (or there was none)."""
        return all(c.passed for c in self.checks if c.kind == "serving")

    def summary(self) -> str:
        """One line: ``passed`` plus counts, or every failed check's message."""
        failed = [c.message for c in self.checks if not c.passed]
        if not failed:
            against = f" (against {self.baseline.ref})" if self.baseline else ""
            return f"passed {len(self.checks)} checks{against}"
        return "; ".join(failed)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``gate.json``, the ``gate`` section of ``evaluation.json``)."""
        nothing = self.compared_with if isinstance(self.compared_with, NoServingModel) else None
        return {
            "passed": self.passed,
            "serving_passed": self.serving_passed,
            "summary": self.summary(),
            "baseline": asdict(self.baseline) if self.baseline else None,
            "no_baseline": asdict(nothing) if nothing else None,
            "checks": [asdict(c) for c in self.checks],
        }


def recorded_baseline(version: ModelVersion, *, environment: str) -> Baseline:
    """The baseline of a serving version from the metrics recorded at its registration."""
    return Baseline(
        ref=version.ref, metrics=dict(version.metrics), source="registry", environment=environment
    )


def check_gate(
    *,
    metrics: dict[str, float],
    gate: GateSection,
    baseline: Baseline | NoServingModel,
    extra: Sequence[GateCheck] = (),
) -> GateResult:
    """Compare the candidate's holdout ``metrics`` with the thresholds and the ``baseline``.

    Thresholds are checked in the order ``gate.thresholds`` lists them; ``extra`` checks (the
    bias bounds, :func:`~model_build.pipeline.steps.bias.bias_checks`) follow them.

    Raises:
        PipelineError: A metric the gate needs is missing from ``metrics``, or has no
            direction in the metric registry.
    """
    checks: list[GateCheck] = []
    for metric, limit in gate.thresholds.items():
        minimum = _higher_is_better(metric)
        value = _metric(metrics, metric)
        ok = value >= limit - _SLACK if minimum else value <= limit + _SLACK
        bound = "minimum" if minimum else "maximum"
        verdict = "meets" if ok else "misses"
        checks.append(
            GateCheck(
                metric=metric,
                kind="absolute",
                candidate=value,
                limit=limit,
                passed=ok,
                message=f"{metric} {value:.4f} {verdict} the {bound} {limit:.4f}",
            )
        )
    if isinstance(baseline, Baseline):
        for metric, tolerance in sorted(gate.serving_tolerance.items()):
            if metric not in baseline.metrics:
                continue
            checks.append(
                _serving_check(
                    metric=metric,
                    value=_metric(metrics, metric),
                    serving=float(baseline.metrics[metric]),
                    tolerance=tolerance,
                    where=f"{baseline.environment} {baseline.ref}",
                )
            )
    checks.extend(extra)
    return GateResult(passed=all(c.passed for c in checks), checks=checks, compared_with=baseline)


def enforce_gate(result: GateResult, *, model_name: str, warnings: Sequence[str] = ()) -> None:
    """Raise if the gate blocked the candidate.

    ``warnings`` are the fallbacks behind the verdict (e.g. a serving version compared by its
    recorded metrics); they end the message, so whoever reads the failure sees them too.

    Raises:
        GateFailedError: The message lists every failed check with both numbers.
    """
    if not result.passed:
        notes = "".join(f" (warning: {line})" for line in warnings)
        raise GateFailedError(f"gate blocked the {model_name} candidate: {result.summary()}{notes}")


def _serving_check(
    *, metric: str, value: float, serving: float, tolerance: float, where: str
) -> GateCheck:
    higher = _higher_is_better(metric)
    limit = serving - tolerance if higher else serving + tolerance
    ok = value >= limit - _SLACK if higher else value <= limit + _SLACK
    worse_by = (serving - value) if higher else (value - serving)
    if ok:
        message = (
            f"{metric} {value:.4f} vs {where} ({serving:.4f}): within the tolerance {tolerance:.4f}"
        )
    else:
        message = (
            f"{metric} {value:.4f} is {worse_by:.4f} worse than {where} ({serving:.4f}), "
            f"more than the tolerance {tolerance:.4f}"
        )
    return GateCheck(
        metric=metric,
        kind="serving",
        candidate=value,
        limit=limit,
        passed=ok,
        message=message,
        baseline=serving,
        tolerance=tolerance,
    )


def _higher_is_better(metric: str) -> bool:
    way = direction(metric)
    if way == "none":
        raise PipelineError(f"gate: metric {metric!r} has no better direction; it cannot be gated")
    return way == "higher"


def _metric(metrics: dict[str, float], name: str) -> float:
    if name not in metrics:
        raise PipelineError(f"gate: metric {name!r} missing from the evaluation")
    return float(metrics[name])
