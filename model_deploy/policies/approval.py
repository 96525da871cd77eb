"""Approval: ``requires_approval`` environments take only Approved versions; none a Rejected one."""

from __future__ import annotations

from model_build.registry.protocol import ApprovalStatus
from model_deploy.policies.result import PolicyContext, PolicyResult

NAME = "approval"


def check_approval(ctx: PolicyContext) -> PolicyResult:
    """Check the candidate's registry status."""
    candidate = ctx.candidate
    if candidate is None:
        return PolicyResult(NAME, "skip", "No model version is deployed, so approval is moot.")
    ref, status = f"{candidate.model_name}:{candidate.version}", candidate.status
    if status == ApprovalStatus.REJECTED:
        reason = f" ({candidate.status_reason})" if candidate.status_reason else ""
        return PolicyResult(NAME, "fail", f"{ref} is Rejected in the registry{reason}.")
    if ctx.rules.requires_approval and status != ApprovalStatus.APPROVED:
        return PolicyResult(
            NAME, "fail", f"{ctx.env} only takes Approved versions, but {ref} is {status}."
        )
    return PolicyResult(NAME, "pass", f"{ref} is {status} in the registry.")
