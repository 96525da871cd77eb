"""Lineage: ``requires_clean_build`` environments take only versions built from a clean commit.

A version registered with the git SHA ``unknown`` (built outside git) or a dirty tree
(``<sha>-dirty``) cannot be traced to the code that made it, so those environments (staging
and prod in the checked-in ``environments.yaml``) refuse it; dev takes it (that is where such
builds are tried).
"""

from __future__ import annotations

from model_deploy.policies.result import PolicyContext, PolicyResult, not_a_promotion

NAME = "lineage"


def check_lineage(ctx: PolicyContext) -> PolicyResult:
    """Check the candidate's recorded git SHA."""
    candidate = ctx.candidate
    if candidate is None:
        return PolicyResult(NAME, "skip", "No model version is deployed, so lineage is moot.")
    skipped = not_a_promotion(ctx, NAME)
    if skipped is not None:
        return skipped
    ref = f"{candidate.model_name}:{candidate.version}"
    sha = (candidate.git_sha or "").strip()
    problem = None
    if not sha or sha.lower() == "unknown":
        problem = "was built from an unknown commit (git unknown)"
    elif sha.endswith("-dirty") or "dirty" in sha.split("-")[1:]:
        problem = f"was built from a dirty work tree ({sha})"
    if problem is None:
        return PolicyResult(NAME, "pass", f"{ref} was built from commit {sha[:12]}.")
    if not ctx.rules.requires_clean_build:
        return PolicyResult(NAME, "pass", f"{ref} {problem}; {ctx.env} allows it.")
    return PolicyResult(
        NAME, "fail", f"{ref} {problem}; {ctx.env} only takes versions built from a clean commit."
    )
