"""Traffic shifting plans shared by the targets: canary, linear and all-at-once as steps."""

from __future__ import annotations

from dataclasses import dataclass

from model_deploy.manifest.model import AllAtOnce, Canary, Linear


@dataclass(frozen=True)
class TrafficStep:
    """Send ``percent`` of traffic to the new version, then watch it for ``hold_seconds``.

    Attributes:
        percent: Share of traffic on the new version (1 to 100).
        hold_seconds: How long to watch its health before the next step.
    """

    percent: int
    hold_seconds: float


def traffic_steps(
    strategy: AllAtOnce | Canary | Linear, *, has_previous: bool
) -> list[TrafficStep]:
    """The steps a strategy takes, in order; the last one always sends 100 %.

    Without a previous version serving (``has_previous``) there is nothing to share traffic
    with, and every strategy is a single step.
    """
    if not has_previous or isinstance(strategy, AllAtOnce):
        return [TrafficStep(100, 0.0)]
    if isinstance(strategy, Canary):
        return [TrafficStep(strategy.percent, strategy.bake_minutes * 60), TrafficStep(100, 0.0)]
    steps = []
    percent = strategy.step_percent
    while percent < 100:
        steps.append(TrafficStep(percent, strategy.interval_minutes * 60))
        percent += strategy.step_percent
    steps.append(TrafficStep(100, 0.0))
    return steps
