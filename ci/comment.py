"""``slipway ci comment-plan``: the plan of a pull request as one sticky comment per environment.

The manifests are read at the pull request's head commit, so the plan is bound to exactly what
would merge (a new push means a new plan); the policies judging them are read from the base
branch, so a pull request cannot lift the freeze or the thresholds that judge it (changing
them is a policy change, which needs its owners' approval: :mod:`ci.governance`). The
``emergency`` label plans an emergency change. The comment holds the plan markdown (changes,
candidate-vs-serving metrics, policy checklist, evidence), the change kind with every
manifest field that changes, the owners' approvals, the manifest diff and the data
validation summary; it is found again by ``<!-- slipway:plan:<env> -->`` and edited in place,
split into parts past GitHub's limit. The pull request body's plan link is pointed at it.
Commit statuses ``slipway/plan`` and ``slipway/policy`` go on the head commit
(:mod:`ci.plan_status`), and the same text goes to ``$GITHUB_STEP_SUMMARY`` when set.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ci.errors import CiError
from ci.forge.protocol import Files, Forge, Trees
from ci.forge.records import MAX_BODY_CHARS, CommitStatus, PrEdit, PullRequest
from ci.governance import Governance, OwnerCheck, emergency_reason, review_governance
from ci.gx_summary import SourceSummary, gx_markdown
from ci.markers import digest_of
from ci.plan_link import plan_link, with_plan_link
from ci.plan_render import change_section, owners_section, with_change_section
from ci.plan_status import PLAN_CONTEXT, POLICY_CONTEXT, set_statuses
from ci.planning import Planner, manifest_path, policy_manifests, read_manifests, stable
from ci.sticky import StickyResult, upsert_sticky
from foundation.markdown import escape_text
from model_build.errors import BuildError
from model_deploy.errors import DeployError
from model_deploy.plan import Plan
from model_deploy.render.markdown import plan_markdown

_BRANCH = re.compile(
    r"^slipway/(?:promote|revert|rollback)-(?P<env>[a-z][a-z0-9-]{0,31}(?:/[A-Za-z0-9_.-]+)?)$"
)
OWNERS_KEY = "owners"

__all__ = ["PLAN_CONTEXT", "POLICY_CONTEXT", "PlanCommentResult", "comment_plan", "infer_envs"]


@dataclass
class PlanCommentResult:
    """What ``comment-plan`` did.

    Attributes:
        plans: Plan per environment that could be planned.
        errors: Why an environment could not be planned.
        comments: Sticky comment update per environment (and ``owners`` for policy paths
            that are not a planned manifest).
        statuses: Commit statuses set on the head.
        governance: What needs the owners' approval, and whether it has it.
        body_updated: Whether the pull request body's plan link was edited.
    """

    pr: PullRequest
    plans: dict[str, Plan] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    comments: dict[str, StickyResult] = field(default_factory=dict)
    statuses: list[CommitStatus] = field(default_factory=list)
    governance: Governance = field(default_factory=Governance)
    body_updated: bool = False

    @property
    def blocked(self) -> bool:
        """Whether a policy, or a missing owners' approval, blocks the pull request."""
        return any(plan.blocked for plan in self.plans.values()) or not self.governance.satisfied


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
    emergency = emergency_reason(pr)
    wanted = envs or infer_envs(forge, pr, manifests_dir=manifests_dir)
    heads: dict[str, str | None] = {}
    for env in wanted:
        try:
            manifests = read_manifests(forge, env=env, ref=pr.head_sha, manifests_dir=manifests_dir)
            heads[env] = manifests[env]
            policies = policy_manifests(forge, env=env, base=pr.base, manifests_dir=manifests_dir)
            result.plans[env] = planner(env, manifests, policies=policies, emergency=emergency)
        except (DeployError, BuildError, CiError) as exc:
            heads.setdefault(env, None)
            result.errors[env] = str(exc)
    result.governance = review_governance(
        forge, pr=pr, plans=result.plans, manifests_dir=manifests_dir
    )
    texts: list[str] = []
    for env in wanted:
        path = manifest_path(manifests_dir, env)
        plan = result.plans.get(env)
        checks = [c for c in result.governance.checks if c.path == path]
        base_text = forge.read_file(path=path, ref=pr.base) or ""
        head_text = heads.get(env)
        diff = _diff(base_text, head_text, path) if head_text is not None else []
        owners = owners_section(checks, result.governance)
        parts = _Parts(env, result.errors.get(env), diff, gx, pr, owners)
        steady = parts.render(plan and stable(plan), run_url=None)
        body = parts.render(plan, run_url=run_url)
        result.comments[env] = upsert_sticky(
            forge, number=number, key=f"plan:{env}", body=body, digest=digest_of(steady),
            limit=limit,
        )  # fmt: skip
        texts.append(body)
    paths = {manifest_path(manifests_dir, env) for env in wanted}
    others = [c for c in result.governance.checks if c.path not in paths]
    if others:
        text = _owners_comment(others, result.governance, pr, run_url=run_url)
        steady_text = _owners_comment(others, result.governance, pr, run_url=None)
        result.comments[OWNERS_KEY] = upsert_sticky(
            forge, number=number, key=OWNERS_KEY, body=text, digest=digest_of(steady_text),
            limit=limit,
        )  # fmt: skip
        texts.append(text)
    result.statuses = set_statuses(
        forge, pr=pr, plans=result.plans, errors=result.errors, governance=result.governance,
        planned=bool(wanted), link=_link(result, run_url),
    )  # fmt: skip
    result.body_updated = _point_body_at_plan(forge, pr, result)
    if step_summary is not None and texts:
        with step_summary.open("a", encoding="utf-8") as handle:
            handle.write("\n\n".join(texts) + "\n")
    return result


class FilesAndTrees(Files, Trees, Protocol):
    """What finding the changed manifests needs: files and the changed paths."""


def infer_envs(forge: FilesAndTrees, pr: PullRequest, *, manifests_dir: str) -> list[str]:
    """Deployments (``<env>/<name>``) a pull request is about.

    Returns:
        The deployment of a ``slipway/promote-<env>/<name>``, ``slipway/revert-<env>/<name>``
        or ``slipway/rollback-<env>/<name>`` branch; else the ``env:<env>/<name>`` labels;
        else every manifest ``<manifests_dir>/<env>/<name>.yaml`` that differs between the
        base branch and the head and exists at the head (possibly none), in promotion order.
    """
    match = _BRANCH.match(pr.head)
    if match:
        return [match.group("env")]
    labelled = [label.removeprefix("env:") for label in pr.labels if label.startswith("env:")]
    if labelled:
        return labelled
    return changed_deployments(forge, base=pr.base, head=pr.head_sha, manifests_dir=manifests_dir)


def changed_deployments(
    forge: FilesAndTrees, *, base: str, head: str, manifests_dir: str
) -> list[str]:
    """Keys of the manifests that differ between ``base`` and ``head`` and exist at ``head``."""
    folder = manifests_dir.strip("/") + "/"
    keys = []
    for path in forge.changed_paths(base=base, head=head):
        rest = path.removeprefix(folder)
        if rest == path or not rest.endswith(".yaml") or rest.count("/") != 1:
            continue
        key = rest.removesuffix(".yaml")
        if forge.read_file(path=path, ref=head) is not None:
            keys.append(key)
    return _in_order(forge, keys, ref=head, manifests_dir=manifests_dir)


def _in_order(forge: Files, keys: list[str], *, ref: str, manifests_dir: str) -> list[str]:
    """``keys`` in the promotion order of the environments file at ``ref`` (else sorted)."""
    from ci.planning import environments_file
    from model_deploy.manifest.environments import parse_environments

    text = forge.read_file(path=environments_file(manifests_dir), ref=ref)
    try:
        if text is not None:
            return parse_environments(text=text, source="environments.yaml").order(keys)
    except DeployError:
        pass  # its plan reports the broken file
    return sorted(set(keys))


def _link(result: PlanCommentResult, run_url: str | None) -> str | None:
    first = next(iter(result.comments.values()), None)
    return first.url if first is not None and first.url.startswith("http") else run_url


def _point_body_at_plan(forge: Forge, pr: PullRequest, result: PlanCommentResult) -> bool:
    """Point the body's plan-link line at the sticky comments (bodies without one are kept)."""
    links = {env: sticky.url for env, sticky in result.comments.items() if env != OWNERS_KEY}
    if not links:
        return False
    body = with_plan_link(pr.body, plan_link(links, head_sha=pr.head_sha))
    if body is None:
        return False
    forge.update_pr(number=pr.number, edit=PrEdit(body=body))
    return True


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


@dataclass(frozen=True)
class _Parts:
    """What one environment's comment is made of, besides the plan."""

    env: str
    error: str | None
    diff: list[str]
    gx: list[SourceSummary] | None
    pr: PullRequest
    owners: list[str]

    def render(self, plan: Plan | None, *, run_url: str | None) -> str:
        if plan is not None:
            lines = with_change_section(plan_markdown(plan), change_section(plan))
        else:
            lines = [
                f"### 🚢 Deploy plan · `{self.env}`",
                "",
                "> [!CAUTION]",
                f"> **The plan could not be computed:** "
                f"{escape_text(self.error or 'unknown error')}",
                "",
            ]
        lines += self.owners
        if self.diff:
            lines += [
                "<details><summary>Manifest diff</summary>",
                "",
                "```diff",
                *self.diff,
                "```",
                "",
                "</details>",
                "",
            ]
        lines += gx_markdown(self.gx or [])
        run = f" · [CI run]({run_url})" if run_url else ""
        lines.append(
            f"<sub>Planned at head `{self.pr.head_sha[:12]}` (policies from `{self.pr.base}`)"
            f"{run} · `slipway ci comment-plan` edits this comment in place.</sub>"
        )
        return "\n".join(lines) + "\n"


def _owners_comment(
    checks: list[OwnerCheck], governance: Governance, pr: PullRequest, *, run_url: str | None
) -> str:
    run = f" · [CI run]({run_url})" if run_url else ""
    lines = [
        "### 🔐 This pull request changes the rules plans are judged by",
        "",
        "It is a policy change: the owners of the paths below must approve its current head.",
        "",
        *owners_section(checks, governance),
        f"<sub>Checked at head `{pr.head_sha[:12]}`{run} · `slipway ci comment-plan` edits "
        "this comment in place.</sub>",
    ]
    return "\n".join(lines) + "\n"
