"""``slipway ci comment-plan``: the plan of a pull request as one sticky comment per environment.

The manifests are read at the pull request's head commit, so the plan is bound to exactly what
would merge (a new push means a new plan). The comment holds the plan markdown (changes,
candidate-vs-serving metrics, policy checklist, evidence), the manifest diff and the data
validation summary; it is found again by ``<!-- slipway:plan:<env> -->`` and edited in place,
split into parts past GitHub's limit. Commit statuses ``slipway/plan`` and ``slipway/policy``
go on the head commit, and the same text goes to ``$GITHUB_STEP_SUMMARY`` when set.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ci.errors import CiError
from ci.forge.protocol import Files, Forge, Statuses
from ci.forge.records import MAX_BODY_CHARS, CommitState, CommitStatus, PullRequest
from ci.gx_summary import SourceSummary, gx_markdown
from ci.markers import digest_of
from ci.planning import Planner, manifest_path, read_manifests, stable
from ci.sticky import StickyResult, upsert_sticky
from foundation.markdown import escape_text
from model_build.errors import BuildError
from model_deploy.errors import DeployError
from model_deploy.plan import Plan
from model_deploy.render.markdown import plan_markdown
from model_deploy.service import ENV_ORDER

PLAN_CONTEXT = "slipway/plan"
POLICY_CONTEXT = "slipway/policy"
_BRANCH = re.compile(r"^slipway/(?:promote|revert)-(?P<env>[a-z][a-z0-9-]{0,31})$")


@dataclass
class PlanCommentResult:
    """What ``comment-plan`` did.

    Attributes:
        plans: Plan per environment that could be planned.
        errors: Why an environment could not be planned.
        comments: Sticky comment update per environment.
        statuses: Commit statuses set on the head.
    """

    pr: PullRequest
    plans: dict[str, Plan] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    comments: dict[str, StickyResult] = field(default_factory=dict)
    statuses: list[CommitStatus] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """Whether a policy blocks any planned environment."""
        return any(plan.blocked for plan in self.plans.values())


def comment_plan(
    *,
    forge: Forge,
    number: int,
    planner: Planner,
    manifests_dir: str,
    envs: list[str] | None = None,
    gx: list[SourceSummary] | None = None,
    run_url: str | None = None,
    step_summary: Path | None = None,
    limit: int = MAX_BODY_CHARS,
) -> PlanCommentResult:
    """Plan the pull request's environments and post or update their sticky comments.

    Args:
        envs: Environments to plan (default: from the branch name, ``env:<env>`` labels, or
            every environment whose manifest the pull request changes).
        run_url: Link to the CI run (shown, and used as the statuses' target).
        step_summary: File to append the comments to (``$GITHUB_STEP_SUMMARY``).

    Returns:
        What was done; ``errors`` lists environments whose plan failed (their comment says
        why and ``slipway/plan`` is failure).
    """
    pr = forge.get_pr(number=number)
    result = PlanCommentResult(pr=pr)
    wanted = envs or infer_envs(forge, pr, manifests_dir=manifests_dir)
    texts: list[str] = []
    for env in wanted:
        path = manifest_path(manifests_dir, env)
        plan: Plan | None = None
        error: str | None = None
        head_text: str | None = None
        try:
            manifests = read_manifests(forge, env=env, ref=pr.head_sha, manifests_dir=manifests_dir)
            head_text = manifests[env]
            plan = planner(env, manifests)
            result.plans[env] = plan
        except (DeployError, BuildError, CiError) as exc:
            error = result.errors[env] = str(exc)
        base_text = forge.read_file(path=path, ref=pr.base) or ""
        diff = _diff(base_text, head_text, path) if head_text is not None else []
        steady = _render(env, plan and stable(plan), error, diff, gx, pr, run_url=None)
        body = _render(env, plan, error, diff, gx, pr, run_url=run_url)
        result.comments[env] = upsert_sticky(
            forge,
            number=number,
            key=f"plan:{env}",
            body=body,
            digest=digest_of(steady),
            limit=limit,
        )
        texts.append(body)
    result.statuses = _set_statuses(forge, result, wanted, run_url=run_url)
    if step_summary is not None and texts:
        with step_summary.open("a", encoding="utf-8") as handle:
            handle.write("\n\n".join(texts) + "\n")
    return result


def infer_envs(forge: Files, pr: PullRequest, *, manifests_dir: str) -> list[str]:
    """Environments a pull request is about.

    Returns:
        The environment of a ``slipway/promote-<env>`` or ``slipway/revert-<env>`` branch;
        else the ``env:<env>`` labels; else the environments whose manifest differs between
        the base branch and the head (possibly none).
    """
    match = _BRANCH.match(pr.head)
    if match:
        return [match.group("env")]
    labelled = [label.removeprefix("env:") for label in pr.labels if label.startswith("env:")]
    if labelled:
        return labelled
    changed = []
    for env in ENV_ORDER:
        path = manifest_path(manifests_dir, env)
        head = forge.read_file(path=path, ref=pr.head_sha)
        if head is not None and head != forge.read_file(path=path, ref=pr.base):
            changed.append(env)
    return changed


def _set_statuses(
    forge: Statuses, result: PlanCommentResult, envs: list[str], *, run_url: str | None
) -> list[CommitStatus]:
    sha = result.pr.head_sha
    first = next(iter(result.comments.values()), None)
    link = first.url if first is not None and first.url.startswith("http") else run_url
    plan_state: CommitState
    policy_state: CommitState
    if not envs:
        plan_desc, plan_state = "No environment manifest changes; nothing to plan.", "success"
        policy_desc, policy_state = "No environment manifest changes.", "success"
    elif result.errors:
        env, why = next(iter(result.errors.items()))
        plan_state, plan_desc = "failure", f"Plan failed for {env}: {why}"
        policy_state, policy_desc = "error", "Policies not checked: the plan failed."
    else:
        plan_state = "success"
        plan_desc = "; ".join(plan.summary for plan in result.plans.values())
        failed = [
            f"{env}: {r.policy}"
            for env, plan in result.plans.items()
            for r in plan.policies
            if r.failed and plan.blocked
        ]
        outcomes = [r.outcome for plan in result.plans.values() for r in plan.policies]
        policy_state = "failure" if failed else "success"
        policy_desc = (
            f"{outcomes.count('pass')} policy check(s) pass, {outcomes.count('skip')} skipped"
        )
        if outcomes.count("fail"):
            policy_desc += f", {outcomes.count('fail')} failed but nothing changes"
        if failed:
            policy_desc = "Blocked by " + ", ".join(failed)
    return [
        forge.set_status(sha=sha, status=CommitStatus(PLAN_CONTEXT, plan_state, plan_desc, link)),
        forge.set_status(
            sha=sha, status=CommitStatus(POLICY_CONTEXT, policy_state, policy_desc, link)
        ),
    ]


def _diff(base: str, head: str, path: str) -> list[str]:
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(
            base.splitlines(keepends=True),
            head.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    ]


def _render(
    env: str,
    plan: Plan | None,
    error: str | None,
    diff: list[str],
    gx: list[SourceSummary] | None,
    pr: PullRequest,
    *,
    run_url: str | None,
) -> str:
    if plan is not None:
        lines = [plan_markdown(plan).rstrip("\n"), ""]
    else:
        lines = [
            f"### 🚢 Deploy plan · `{env}`",
            "",
            "> [!CAUTION]",
            f"> **The plan could not be computed:** {escape_text(error or 'unknown error')}",
            "",
        ]
    if diff:
        lines += [
            "<details><summary>Manifest diff</summary>",
            "",
            "```diff",
            *diff,
            "```",
            "",
            "</details>",
            "",
        ]
    lines += gx_markdown(gx or [])
    run = f" · [CI run]({run_url})" if run_url else ""
    lines.append(
        f"<sub>Planned at head `{pr.head_sha[:12]}`{run} · `slipway ci comment-plan` edits this "
        "comment in place.</sub>"
    )
    return "\n".join(lines) + "\n"
