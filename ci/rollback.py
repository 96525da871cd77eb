"""``slipway ci rollback``: roll an environment back by pull request, never behind git's back.

With a forge, a rollback is a change to the manifest like any other: the manifest text that
would go back to an earlier deployment (``model_deploy.rollback.rollback_manifest``: the
deployment's manifest from the history, policy fields kept from the base branch) is
committed to ``slipway/rollback-<env>`` and proposed by pull request; merging it deploys it,
so git stays the source of truth and the deploy history records it as a rollback. When the
history holds no deployment of the version asked for (a fresh runner has none), the
``model`` block alone is set to it, and the body says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ci.errors import PromotionError
from ci.forge.protocol import Forge
from ci.planning import Planner, RegistryOpener, manifest_path
from ci.promote import PromotionResult, plan_change
from ci.steps.body import Proposal, render_body
from ci.steps.branch import branch_name, commit_manifest
from ci.steps.manifest_edit import set_model
from ci.steps.pull_request import open_or_adopt
from model_build.errors import BuildError
from model_deploy.errors import DeployError, NoPreviousDeploymentError
from model_deploy.manifest.loader import parse_manifest
from model_deploy.manifest.model import ModelRef


@dataclass(frozen=True)
class RollbackText:
    """The manifest that rolls back, and where it came from (``how``, one phrase)."""

    text: str
    how: str


RollbackSource = Callable[[str, str, int | None], RollbackText]
"""``(env, manifest text on the base branch, version or None)`` -> the manifest that rolls
back (raises ``NoPreviousDeploymentError`` when the history has nothing to go back to)."""


def history_rollback(*, registries: RegistryOpener | None = None) -> RollbackSource:
    """The rollback manifests of ``model_deploy``'s deploy history (its state store)."""

    def source(env: str, current: str, version: int | None) -> RollbackText:
        from model_deploy.rollback import rollback_manifest
        from model_deploy.service import Deployer

        found = rollback_manifest(
            Deployer(registries=registries), env, current_text=current, to_version=version
        )
        fields = ", ".join(found.changed) or "no field"
        return RollbackText(
            found.text, f"the manifest of its deployment in the history ({fields} change)"
        )

    return source


def propose_rollback(
    forge: Forge,
    *,
    env: str,
    to_version: int | None,
    base: str,
    registries: RegistryOpener,
    planner: Planner,
    manifests_dir: str,
    source: RollbackSource,
    command: str,
) -> PromotionResult:
    """Open (or update) the pull request that rolls ``env`` back (to ``to_version``).

    Raises:
        PromotionError: No manifest, nothing to roll back to, or the version cannot be read.
        ForgeError: The forge failed.
    """
    path = manifest_path(manifests_dir, env)
    current = forge.read_file(path=path, ref=base)
    if current is None:
        raise PromotionError(f"no manifest for {env!r}: {path} does not exist on {base}")
    serving = _model(current, path=path, env=env)
    try:
        found = source(env, current, to_version)
    except NoPreviousDeploymentError as exc:
        if to_version is None or serving is None:
            raise PromotionError(f"nothing to roll back to: {exc}") from exc
        wanted = _version(registries, serving, to_version)
        found = RollbackText(
            set_model(current, wanted, source=path),
            f"only `model:` set to {wanted.ref} (the deploy history has no deployment of it: "
            f"{exc})",
        )
    except DeployError as exc:
        raise PromotionError(str(exc)) from exc
    target = _model(found.text, path=path, env=env)
    if found.text == current:
        raise PromotionError(f"{path} on {base} already is the rollback; nothing to propose")
    record = None
    if target is not None:
        try:
            record = registries(target.registry).get(model_name=target.name, version=target.version)
        except BuildError as exc:
            raise PromotionError(f"{target.ref} cannot be read for the rollback: {exc}") from exc
    branch = branch_name("rollback", env)
    existing = forge.find_open_pr(head=branch, base=base)
    why = f"rolled back on request (`{command}`): {found.how}"
    proposal = Proposal(
        kind="rollback",
        env=env,
        path=path,
        model=target,
        previous=serving,
        record=record,
        why=why,
        command=command,
    )
    commit = commit_manifest(
        forge,
        branch=branch,
        base=base,
        path=path,
        content=found.text,
        message=f"{proposal.title}\n\nWhy: {why.replace('`', '')}.\n\nSlipway-Rollback: "
        f"{env} {target.ref if target else 'null'}\n",
        has_open_pr=existing is not None,
    )
    plan, _ = plan_change(
        planner, forge, env=env, ref=commit.sha, base=base, manifests_dir=manifests_dir
    )
    opened, action = open_or_adopt(
        forge,
        head=branch,
        base=base,
        title=proposal.title,
        body=render_body(proposal),
        labels=("slipway:rollback", f"env:{env}"),
        existing=existing,
    )
    return PromotionResult(
        env=env,
        branch=branch,
        model_ref=target.ref if target else None,
        pr=opened,
        commit=commit,
        pr_action=action,
        plan=plan,
    )


def _version(registries: RegistryOpener, serving: ModelRef, version: int) -> ModelRef:
    """``serving``'s model at ``version``, with that version's feature service."""
    try:
        record = registries(serving.registry).get(model_name=serving.name, version=version)
    except BuildError as exc:
        raise PromotionError(f"{serving.name}:{version} cannot be read: {exc}") from exc
    return serving.model_copy(
        update={"version": version, "feature_service": record.feature_service}
    )


def _model(text: str, *, path: str, env: str) -> ModelRef | None:
    try:
        return parse_manifest(
            text=text, source=path, expected_env=env.partition("/")[0], key=env
        ).manifest.model
    except DeployError as exc:
        raise PromotionError(str(exc)) from exc
