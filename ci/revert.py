"""The revert pull request of a failed deploy: the git revert of the merge commit.

Reverting the pull request, not hand-editing ``model:``, is what puts git back on what
serves: every field the merge changed (the smoke tests, the strategy, the model) comes back,
so a failure caused by a config change is not re-deployed with the old model and the new
config. The revert is one commit on ``slipway/revert-<env>`` on top of the base branch (the
forge's ``revert_merge``); its pull request is opened, or the open one adopted, never
duplicated. It refuses, naming the files, when the base changed them since.
"""

from __future__ import annotations

from ci.errors import PromotionError
from ci.forge.protocol import Forge
from ci.forge.records import PullRequest
from ci.planning import Planner, RegistryOpener, manifest_path
from ci.promote import PromotionResult, plan_change
from ci.steps.body import Proposal, render_body
from ci.steps.branch import branch_name
from ci.steps.pull_request import open_or_adopt
from model_build.errors import BuildError
from model_build.registry.protocol import ModelVersion
from model_deploy.errors import DeployError
from model_deploy.manifest.loader import parse_manifest
from model_deploy.manifest.model import ModelRef

#: Branches whose pull requests restore a version that served before.
RESTORING_PREFIXES = ("slipway/revert-", "slipway/rollback-")


def restores(pr: PullRequest | None) -> bool:
    """Whether ``pr`` is a revert or a rollback (it restores what served before)."""
    return pr is not None and (
        pr.head.startswith(RESTORING_PREFIXES)
        or bool({"slipway:revert", "slipway:rollback"} & set(pr.labels))
    )


def model_at(forge: Forge, *, path: str, ref: str, env: str) -> ModelRef | None:
    """The ``model`` block of ``env``'s manifest at ``ref`` (None: ``model: null`` or no file).

    Raises:
        PromotionError: The manifest there is invalid.
    """
    text = forge.read_file(path=path, ref=ref)
    if text is None:
        return None
    try:
        return parse_manifest(
            text=text, source=path, expected_env=env.partition("/")[0], key=env
        ).manifest.model
    except DeployError as exc:
        raise PromotionError(str(exc)) from exc


def propose_revert(
    forge: Forge,
    *,
    env: str,
    sha: str,
    pr: PullRequest | None,
    base: str,
    registries: RegistryOpener,
    planner: Planner,
    manifests_dir: str,
    why: str,
    command: str,
) -> PromotionResult:
    """Open (or update) the pull request reverting merge ``sha`` on ``base``.

    Raises:
        RevertConflictError: ``base`` changed a file of ``sha`` since, or has nothing to undo.
        PromotionError: A manifest is invalid, or the restored version cannot be read.
        ForgeError: The forge failed.
    """
    path = manifest_path(manifests_dir, env)
    branch = branch_name("revert", env)
    existing = forge.find_open_pr(head=branch, base=base)
    undone = f'"{pr.title}" (#{pr.number})' if pr else sha[:12]
    message = (
        f"Revert {undone}\n\nThis reverts merge commit {sha}: {why.replace('`', '')}.\n\n"
        f"Slipway-Revert: {env} {sha}\n"
    )
    commit = forge.revert_merge(sha=sha, branch=branch, base=base, message=message)
    restored = model_at(forge, path=path, ref=commit.sha, env=env)
    failed = model_at(forge, path=path, ref=sha, env=env)
    record = _record(registries, restored)
    plan, _ = plan_change(
        planner, forge, env=env, ref=commit.sha, base=base, manifests_dir=manifests_dir
    )
    if restored != failed:
        title = f"Revert {env} to {restored.ref if restored else 'nothing (model: null)'}"
    else:
        title = f"Revert {env}: undo {undone}"
    proposal = Proposal(
        kind="revert",
        env=env,
        path=path,
        model=restored,
        previous=failed,
        record=record,
        why=why,
        command=command,
        title_text=title,
        extra_meta=(("reverts", sha), ("pr", pr.number if pr else None)),
    )
    opened, action = open_or_adopt(
        forge,
        head=branch,
        base=base,
        title=proposal.title,
        body=render_body(proposal),
        labels=("slipway:revert", f"env:{env}"),
        existing=existing,
    )
    return PromotionResult(
        env=env,
        branch=branch,
        model_ref=restored.ref if restored else None,
        pr=opened,
        commit=commit,
        pr_action=action,
        plan=plan,
    )


def _record(registries: RegistryOpener, model: ModelRef | None) -> ModelVersion | None:
    if model is None:
        return None
    try:
        return registries(model.registry).get(model_name=model.name, version=model.version)
    except BuildError as exc:
        raise PromotionError(f"cannot read {model.ref} for the revert: {exc}") from exc
