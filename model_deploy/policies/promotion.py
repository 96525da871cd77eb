"""Promotion order: an environment with an ``upstream`` only takes the version serving there.

In the checked-in ``environments.yaml`` prod's upstream is staging: prod takes only the version
that serves, healthy, in staging (the same model's deployment).
"""

from __future__ import annotations

from model_deploy.policies.result import PolicyContext, PolicyResult, not_a_promotion

NAME = "promotion-order"


def check_promotion_order(ctx: PolicyContext) -> PolicyResult:
    """Check that the upstream environment serves the candidate and is healthy."""
    upstream_env = ctx.rules.upstream
    if upstream_env is None:
        return PolicyResult(NAME, "skip", f"{ctx.env} has no upstream environment.")
    candidate = ctx.candidate
    if candidate is None:
        return PolicyResult(NAME, "skip", "No model version is deployed, so order is moot.")
    skipped = not_a_promotion(ctx, NAME)
    if skipped is not None:
        return skipped
    ref = f"{candidate.model_name}:{candidate.version}"
    upstream = ctx.upstream
    if upstream is None or upstream.error:
        why = upstream.error if upstream and upstream.error else "it was not checked"
        return PolicyResult(
            NAME, "fail", f"Cannot confirm that {upstream_env} serves {ref}: {why}."
        )
    if upstream.model_ref != ref:
        serving = upstream.model_ref or "nothing"
        return PolicyResult(
            NAME,
            "fail",
            f"{ctx.env} only takes a version serving in {upstream_env}, which serves {serving}, "
            f"not {ref}.",
        )
    if not upstream.healthy:
        return PolicyResult(
            NAME, "fail", f"{upstream_env} serves {ref} but is not healthy; fix it first."
        )
    return PolicyResult(NAME, "pass", f"{ref} is serving and healthy in {upstream_env}.")
