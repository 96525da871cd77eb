"""The commit statuses ``slipway/plan`` and ``slipway/policy`` of a planned head.

One pair per pull request, aggregated over every environment it plans. ``slipway/policy``
fails when a policy blocks a plan (its description names the environment, the policy and
why: a refused merge quotes it), or when a change needs its owners' approval and does not
have it yet; it errors when a plan could not be computed. Both go on the head commit only:
a new push starts without them, so an unplanned head cannot merge.
"""

from __future__ import annotations

from collections.abc import Mapping

from ci.forge.protocol import Statuses
from ci.forge.records import CommitState, CommitStatus, PullRequest
from ci.governance import Governance
from model_deploy.plan import Plan

PLAN_CONTEXT = "slipway/plan"
POLICY_CONTEXT = "slipway/policy"


def set_statuses(
    forge: Statuses,
    *,
    pr: PullRequest,
    plans: Mapping[str, Plan],
    errors: Mapping[str, str],
    governance: Governance,
    planned: bool,
    link: str | None,
) -> list[CommitStatus]:
    """Set both statuses on the head of ``pr``; returns them.

    ``planned`` says whether any environment was planned (none: the pull request changes no
    manifest); ``link`` is shown next to the statuses (the comment, else the CI run).
    """
    plan_state, plan_desc = _plan_status(plans, errors, planned=planned)
    policy_state, policy_desc = _policy_status(plans, errors, governance, planned=planned)
    return [
        forge.set_status(
            sha=pr.head_sha, status=CommitStatus(PLAN_CONTEXT, plan_state, plan_desc, link)
        ),
        forge.set_status(
            sha=pr.head_sha, status=CommitStatus(POLICY_CONTEXT, policy_state, policy_desc, link)
        ),
    ]


def _plan_status(
    plans: Mapping[str, Plan], errors: Mapping[str, str], *, planned: bool
) -> tuple[CommitState, str]:
    if not planned:
        return "success", "No environment manifest changes; nothing to plan."
    if errors:
        env, why = next(iter(errors.items()))
        return "failure", f"Plan failed for {env}: {why}"
    return "success", "; ".join(plan.summary for plan in plans.values())


def _policy_status(
    plans: Mapping[str, Plan],
    errors: Mapping[str, str],
    governance: Governance,
    *,
    planned: bool,
) -> tuple[CommitState, str]:
    if errors:
        return "error", "Policies not checked: the plan failed."
    blocked = [
        f"{env}: {r.policy} ({r.message.rstrip('.')})"
        for env, plan in plans.items()
        if plan.blocked
        for r in plan.policies
        if r.failed
    ]
    if blocked:
        return "failure", "Blocked by " + "; ".join(blocked)
    if governance.missing:
        return "failure", "Needs owner approval: " + "; ".join(
            check.sentence() for check in governance.missing
        )
    if not planned and not governance.checks:
        return "success", "No environment manifest changes."
    outcomes = [r.outcome for plan in plans.values() for r in plan.policies]
    text = f"{outcomes.count('pass')} policy check(s) pass, {outcomes.count('skip')} skipped"
    if outcomes.count("waived"):
        text += f", {outcomes.count('waived')} waived for the emergency"
    if outcomes.count("fail"):
        text += f", {outcomes.count('fail')} failed but nothing changes"
    if governance.checks:
        text += "; the owners approved the " + (
            "emergency" if governance.emergency else "policy change"
        )
    return "success", text
