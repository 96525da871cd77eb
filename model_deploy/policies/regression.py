"""Regression: the candidate is not worse than the serving version by more than the manifest allows.

Which way a metric is worse comes from ``model_build.registry.compare`` (the one definition of
metric direction), never from here.
"""

from __future__ import annotations

from model_build.registry.compare import compare_metrics
from model_deploy.policies.result import PolicyContext, PolicyResult, not_a_promotion

NAME = "regression"


def check_regression(ctx: PolicyContext) -> PolicyResult:
    """Check every ``policy.max_regression`` limit against the serving version's metrics.

    Nothing serving passes (no baseline); a serving version whose registry record cannot be
    read fails (the regression cannot be ruled out); a metric either version lacks fails.
    """
    limits = ctx.manifest.policy.max_regression
    candidate = ctx.candidate
    if candidate is None:
        return PolicyResult(NAME, "skip", "No model version is deployed, so regression is moot.")
    if not limits:
        return PolicyResult(NAME, "skip", f"The {ctx.env} manifest sets no regression limits.")
    skipped = not_a_promotion(ctx, NAME)
    if skipped is not None:
        return skipped
    ref = f"{candidate.model_name}:{candidate.version}"
    if ctx.serving_ref is None:
        return PolicyResult(
            NAME, "pass", f"Nothing serves in {ctx.env}, so {ref} has no baseline to regress from."
        )
    serving = ctx.serving
    if serving is None:
        why = ctx.serving_error or "its registry record is unknown"
        return PolicyResult(
            NAME, "fail", f"Cannot compare {ref} with the serving {ctx.serving_ref}: {why}."
        )
    deltas = {d.name: d for d in compare_metrics(serving.metrics, candidate.metrics)}
    problems, checks = [], []
    for name, allowed in sorted(limits.items()):
        delta = deltas.get(name)
        if delta is None or delta.a is None or delta.b is None or delta.delta is None:
            side = serving.ref if delta is None or delta.a is None else ref
            problems.append(f"{name} is not in {side}'s registry record")
            continue
        if delta.direction == "none":
            problems.append(
                f"{name} has no better direction in the metric registry, so no regression "
                "limit can apply to it"
            )
            continue
        worse_by = delta.delta if delta.direction == "lower" else -delta.delta
        direction = "higher" if delta.direction == "lower" else "lower"
        checks.append(f"{name} {delta.a:.4g} -> {delta.b:.4g}")
        if worse_by > allowed:
            problems.append(
                f"{name} is {delta.b:.4g} against {delta.a:.4g}, {worse_by:.4g} {direction} "
                f"(worse) than the serving version; at most {allowed:g} is allowed"
            )
    if problems:
        return PolicyResult(
            NAME,
            "fail",
            f"{ref} is worse than the serving {serving.ref}: {'; '.join(problems)}.",
        )
    return PolicyResult(
        NAME,
        "pass",
        f"{ref} is within {ctx.env}'s regression limits of the serving {serving.ref} "
        f"({', '.join(checks)}).",
    )
