"""``slipway promote``: propose a model version for an environment by pull request.

Kargo-style steps, one module each in :mod:`ci.steps`: resolve the version (``resolve``),
edit the manifest's ``model`` block (``manifest_edit``), commit it to
``slipway/promote-<env>`` (``branch``), render the body (``body``: what and why, with a link
to the sticky plan comment, never a copy of the plan), open or adopt the pull request
(``pull_request``). Manifests are read from the forge at the base branch, and so are the
policies of the plan shown on the command line. Re-running with the same inputs makes no
commit, no pull request and no edit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ci.errors import CiError, PromotionError
from ci.forge.protocol import Files, Forge
from ci.forge.records import FileCommit, PullRequest
from ci.governance import EMERGENCY_LABEL
from ci.planning import (
    Planner,
    RegistryOpener,
    manifest_path,
    policy_manifests,
    read_manifests,
)
from ci.steps.body import Proposal, render_body
from ci.steps.branch import branch_name, commit_manifest
from ci.steps.manifest_edit import set_model
from ci.steps.pull_request import PrAction, open_or_adopt
from ci.steps.resolve import parse_version, resolve_candidate
from model_build.errors import BuildError
from model_deploy.errors import DeployError
from model_deploy.manifest.loader import LoadedManifest, parse_manifest
from model_deploy.plan import Plan

_ENV = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_KEY = re.compile(r"^[a-z][a-z0-9-]{0,31}/[A-Za-z0-9](?:-*[A-Za-z0-9_])*$")


@dataclass(frozen=True)
class PromotionRequest:
    """What to promote where.

    Attributes:
        env: Target environment (or a deployment ``<env>/<model>``).
        version: ``N`` or ``MODEL:N`` (or None with ``source_env``).
        model: The model to promote (its manifest ``<env>/<model>.yaml``); default: the
            ``MODEL`` of ``MODEL:N``, or the model of a deployment ``env``.
        source_env: Environment whose manifest names the version (``--from``).
        override_rejection: Propose a Rejected version anyway (recorded in the body).
        emergency: Label the pull request ``emergency`` (it may pass a freeze window, with the
            owners' approval; the plan and the deployment record it).
        base: Branch the pull request targets.
        registry: Registry of an explicit version (default: from the manifests).
    """

    env: str
    version: str | None = None
    source_env: str | None = None
    override_rejection: bool = False
    emergency: bool = False
    base: str = "main"
    manifests_dir: str = "model_deploy/environments"
    registry: str | None = None
    model: str | None = None

    @property
    def command(self) -> str:
        """The equivalent command line."""
        what = f"--from {self.source_env}" if self.source_env else str(self.version)
        flag = f" --model {self.model}" if self.model and self.source_env else ""
        flag += " --override-rejection" if self.override_rejection else ""
        flag += " --emergency" if self.emergency else ""
        return f"slipway promote --to {self.env} {what}{flag}"

    def model_name(self) -> str:
        """The model promoted.

        Raises:
            PromotionError: Nothing names it, or two things name different models.
        """
        named = {
            name
            for name in (
                self.model,
                parse_version(self.version)[0] if self.version else None,
                self.env.partition("/")[2] or None,
                (self.source_env or "").partition("/")[2] or None,
            )
            if name
        }
        if len(named) > 1:
            raise PromotionError(f"the request names several models: {', '.join(sorted(named))}")
        if not named:
            raise PromotionError(
                "which model? write the version as MODEL:N (driver_ranking:3) or pass --model"
            )
        return named.pop()


@dataclass(frozen=True)
class PromotionResult:
    """What a promotion (or revert) did.

    Attributes:
        env: Environment.
        branch: Its branch.
        model_ref: The proposed ``<model>:<version>`` (None for ``model: null``).
        pr: The open pull request, if any.
        commit: The branch commit (None when nothing was proposed).
        pr_action: ``created``, ``updated`` or ``unchanged`` (None when nothing was proposed).
        noop: Why nothing was proposed, if so.
        plan: The plan shown in the body.
    """

    env: str
    branch: str
    model_ref: str | None
    pr: PullRequest | None
    commit: FileCommit | None
    pr_action: PrAction | None
    noop: str | None = None
    plan: Plan | None = None

    @property
    def changed(self) -> bool:
        """Whether a commit, a pull request or an edit was made."""
        return bool(
            (self.commit and self.commit.changed) or self.pr_action in ("created", "updated")
        )


def promote(
    request: PromotionRequest, *, forge: Forge, registries: RegistryOpener, planner: Planner
) -> PromotionResult:
    """Open or update the promotion pull request of ``request.env``.

    Raises:
        PromotionError: Unknown environment or version, Rejected version without override,
            or a manifest that cannot be edited.
        ForgeError: The forge failed.
    """
    envs = [request.env.partition("/")[0]]
    envs += [request.source_env.partition("/")[0]] if request.source_env else []
    for name in envs:
        if not _ENV.match(name):
            raise PromotionError(f"{name!r} is not an environment name (like dev, staging, prod)")
    if request.source_env is not None and envs[0] == envs[1]:
        raise PromotionError(f"cannot promote {envs[0]} from itself")
    model = request.model_name()
    key = f"{envs[0]}/{model}"
    if not _KEY.match(key):
        raise PromotionError(f"{model!r} is not a model name")
    target = _manifest(forge, request, key)
    source = _manifest(forge, request, f"{envs[1]}/{model}") if request.source_env else None
    version = request.version
    if version is not None and parse_version(version)[0] is None:
        version = f"{model}:{parse_version(version)[1]}"
    candidate = resolve_candidate(
        target=target[1],
        version=version,
        source=source[1] if source else None,
        others={},
        registries=registries,
        registry_kind=request.registry,
    )
    if candidate.rejected and not request.override_rejection:
        reason = f" ({candidate.record.status_reason})" if candidate.record.status_reason else ""
        raise PromotionError(
            f"{candidate.model.ref} is Rejected in the registry{reason}; pass "
            "--override-rejection to propose it anyway (recorded in the pull request)"
        )
    path = manifest_path(request.manifests_dir, key)
    why = (
        f"the version `{candidate.source_env}`'s manifest names"
        if candidate.source_env
        else f"requested explicitly (`{request.version}`)"
    )
    proposal = Proposal(
        kind="promote",
        env=key,
        path=path,
        model=candidate.model,
        previous=target[1].manifest.model,
        record=candidate.record,
        why=why,
        command=request.command,
        override_rejection=request.override_rejection and candidate.rejected,
        emergency=request.emergency,
    )
    return propose(
        forge,
        proposal,
        base=request.base,
        base_text=target[0],
        planner=planner,
        manifests_dir=request.manifests_dir,
    )


def propose(
    forge: Forge,
    proposal: Proposal,
    *,
    base: str,
    base_text: str,
    planner: Planner,
    manifests_dir: str,
) -> PromotionResult:
    """Commit a manifest change to its branch and open or update its pull request.

    Args:
        base_text: The manifest at ``base``.

    Returns:
        What was done (``noop`` set when the base already has the change).
    """
    branch = branch_name(proposal.kind, proposal.env)
    ref = proposal.model.ref if proposal.model else None
    new_text = set_model(base_text, proposal.model, source=proposal.path)
    existing = forge.find_open_pr(head=branch, base=base)
    if new_text == base_text:
        return PromotionResult(
            env=proposal.env,
            branch=branch,
            model_ref=ref,
            pr=existing,
            commit=None,
            pr_action=None,
            noop=f"{proposal.path} on {base} already names {ref or 'nothing'}; nothing to do",
        )
    plan, _ = plan_change(
        planner, forge, env=proposal.env, ref=base, base=base, manifests_dir=manifests_dir,
        override={proposal.env: new_text},
    )  # fmt: skip
    body = render_body(proposal)
    commit = commit_manifest(
        forge,
        branch=branch,
        base=base,
        path=proposal.path,
        content=new_text,
        message=_commit_message(proposal),
        has_open_pr=existing is not None,
    )
    labels = (
        f"slipway:{'promotion' if proposal.kind == 'promote' else 'revert'}",
        f"env:{proposal.env}",
        *((EMERGENCY_LABEL,) if proposal.emergency else ()),
    )
    pr, action = open_or_adopt(
        forge,
        head=branch,
        base=base,
        title=proposal.title,
        body=body,
        labels=labels,
        existing=existing,
    )
    return PromotionResult(
        env=proposal.env,
        branch=branch,
        model_ref=ref,
        pr=pr,
        commit=commit,
        pr_action=action,
        plan=plan,
    )


def _manifest(forge: Forge, request: PromotionRequest, env: str) -> tuple[str, LoadedManifest]:
    """The text and manifest of the deployment ``env`` (``<env>/<model>``) on the base branch."""
    found = _optional_manifest(forge, request, env)
    if found is None:
        path = manifest_path(request.manifests_dir, env)
        raise PromotionError(f"no manifest for {env!r}: {path} does not exist on {request.base}")
    return found


def _optional_manifest(
    forge: Forge, request: PromotionRequest, env: str
) -> tuple[str, LoadedManifest] | None:
    path = manifest_path(request.manifests_dir, env)
    text = forge.read_file(path=path, ref=request.base)
    if text is None:
        return None
    try:
        return text, parse_manifest(
            text=text, source=path, expected_env=env.partition("/")[0], key=env
        )
    except DeployError as exc:
        raise PromotionError(str(exc)) from exc


def plan_change(
    planner: Planner,
    forge: Files,
    *,
    env: str,
    ref: str,
    base: str,
    manifests_dir: str,
    override: Mapping[str, str] | None = None,
    emergency: str | None = None,
) -> tuple[Plan | None, str | None]:
    """Plan ``env`` as ``ref`` (with ``override`` texts) would deploy it, policies from ``base``.

    Returns:
        ``(plan, None)``, or ``(None, why)`` when it cannot be planned.
    """
    try:
        manifests = read_manifests(
            forge, env=env, ref=ref, manifests_dir=manifests_dir, override=override
        )
        policies = policy_manifests(forge, env=env, base=base, manifests_dir=manifests_dir)
    except CiError as exc:
        return None, str(exc)
    try:
        return planner(env, manifests, policies=policies, emergency=emergency), None
    except (DeployError, BuildError) as exc:
        return None, str(exc)


def _commit_message(proposal: Proposal) -> str:
    lines = [proposal.title, ""]
    if proposal.record is not None:
        r = proposal.record
        lines += [
            f"Why: {proposal.why.replace('`', '')}. Registry status: {r.status}.",
            f"Artifact {r.artifact_digest}, model git {r.git_sha}, data {r.data_hash}.",
            "",
        ]
    lines.append(
        f"Slipway-{proposal.kind.capitalize()}: {proposal.env} "
        f"{proposal.model.ref if proposal.model else 'null'}"
    )
    if proposal.override_rejection:
        lines.append("Slipway-Override-Rejection: true")
    return "\n".join(lines) + "\n"
