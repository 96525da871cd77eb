"""Promotion path: ``promotion: {from: dev}`` takes only versions deployed healthily in dev.

The dev environment's deploy history must show a successful deploy of the candidate.
"""

from __future__ import annotations

from model_deploy.policies.result import PolicyContext, PolicyResult, not_a_promotion

NAME = "promotion-path"


def check_promotion_path(ctx: PolicyContext) -> PolicyResult:
    """Check the ``promotion.from`` environment's history for a healthy deploy of the candidate."""
    path = ctx.manifest.promotion
    if path is None:
        return PolicyResult(NAME, "skip", f"The {ctx.env} manifest declares no promotion path.")
    candidate = ctx.candidate
    if candidate is None:
        return PolicyResult(NAME, "skip", "No model version is deployed, so the path is moot.")
    skipped = not_a_promotion(ctx, NAME)
    if skipped is not None:
        return skipped
    ref = f"{candidate.model_name}:{candidate.version}"
    evidence = ctx.promotion
    if evidence is None or evidence.error:
        why = evidence.error if evidence and evidence.error else "it was not checked"
        return PolicyResult(
            NAME, "fail", f"Cannot read {path.from_env}'s deploy history for {ref}: {why}."
        )
    if evidence.deployed_at is None:
        return PolicyResult(
            NAME,
            "fail",
            f"{ctx.env} only takes versions deployed healthily in {path.from_env}, and "
            f"{path.from_env}'s deploy history has no successful deploy of {ref}.",
        )
    return PolicyResult(
        NAME,
        "pass",
        f"{ref} was deployed healthily in {path.from_env} at "
        f"{evidence.deployed_at:%Y-%m-%d %H:%M} UTC.",
    )
