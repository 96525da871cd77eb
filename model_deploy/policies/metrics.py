"""Metric thresholds: the candidate's registry metrics meet the manifest's bounds."""

from __future__ import annotations

from model_deploy.policies.result import PolicyContext, PolicyResult, not_a_promotion

NAME = "metric-thresholds"


def check_metric_thresholds(ctx: PolicyContext) -> PolicyResult:
    """Check every threshold of ``policy.thresholds`` against the candidate's metrics.

    A metric the candidate does not report fails. Only promotions are checked: a config
    change or a rollback keeps (or returns to) a version that already serves here.
    """
    thresholds = ctx.manifest.policy.thresholds
    candidate = ctx.candidate
    if candidate is None:
        return PolicyResult(NAME, "skip", "No model version is deployed, so metrics are moot.")
    if not thresholds:
        return PolicyResult(NAME, "skip", f"The {ctx.env} manifest sets no metric thresholds.")
    skipped = not_a_promotion(ctx, NAME)
    if skipped is not None:
        return skipped
    problems, checks = [], []
    for name, bound in sorted(thresholds.items()):
        value = candidate.metrics.get(name)
        if value is None:
            problems.append(f"{name} is not in the registry record")
            continue
        if bound.min is not None:
            checks.append(f"{name} {value:.4g} ≥ {bound.min:g}")
            if value < bound.min:
                problems.append(f"{name} is {value:.4g}, below the minimum {bound.min:g}")
        if bound.max is not None:
            checks.append(f"{name} {value:.4g} ≤ {bound.max:g}")
            if value > bound.max:
                problems.append(f"{name} is {value:.4g}, above the maximum {bound.max:g}")
    ref = f"{candidate.model_name}:{candidate.version}"
    if problems:
        return PolicyResult(NAME, "fail", f"{ref} misses {ctx.env}'s bar: {'; '.join(problems)}.")
    return PolicyResult(NAME, "pass", f"{ref} meets every threshold ({', '.join(checks)}).")
