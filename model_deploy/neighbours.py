"""What the other environments say about a deployment: its rules, its upstream, its path.

A deployment (``<env>/<name>``) is judged by its environment's rules (``environments.yaml``,
from the policy source when there is one), by what its upstream environment serves of the
same model right now (the promotion order: ``staging/<name>`` for ``prod/<name>``), and by the
deploy history of the environment its versions come from (the promotion path). The same model
in another environment is ``<other>/<name>``, or the manifest there whose ``model.name`` is the
candidate's model (a renamed manifest is still found).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from model_deploy.changes import field_changes
from model_deploy.errors import DeployError
from model_deploy.manifest.environments import EnvironmentRules
from model_deploy.manifest.model import Manifest
from model_deploy.manifest.sources import ManifestSource, deployment_key, split_key
from model_deploy.plan import FieldChange
from model_deploy.policies.result import PolicyResult, PromotionEvidence, UpstreamState

if TYPE_CHECKING:
    from model_build.registry.protocol import ModelVersion
    from model_deploy.service import Deployer


def judging_rules(
    deployer: Deployer, env: str, policy: ManifestSource | None
) -> tuple[EnvironmentRules, list[FieldChange], PolicyResult | None]:
    """The rules that judge ``env``, what the desired side changes of them, and a failure.

    With a policy source its environments file judges (the base branch's), and every rule
    the desired environments file changes is a policy change
    (``environments.<env>.<field>``); an environment the source does not declare is judged
    by the desired rules, all of them new. A policy source whose environments cannot be read
    is a failed ``policy-source`` result.

    Raises:
        ManifestError: The desired environments file is invalid or does not declare ``env``.
    """
    head = deployer.rules(env)
    if policy is None:
        return head, [], None
    try:
        declared = policy.environments()
    except DeployError as exc:
        failed = PolicyResult(
            "policy-source", "fail", f"Cannot read the policy source's environments: {exc}."
        )
        return head, [], failed
    base = declared.rules(env) if env in declared.environments else None
    changed = field_changes(
        base.model_dump(mode="json") if base else None, head.model_dump(mode="json")
    )
    prefix = f"environments.{env}."
    changes = [
        FieldChange(key=prefix + path, setting=prefix + path, serving=old, desired=new)
        for path, old, new in changed
    ]
    return (base or head), changes, None


def promotion_evidence(
    deployer: Deployer, key: str, manifest: Manifest, candidate: ModelVersion | None
) -> PromotionEvidence | None:
    """What ``promotion.from``'s history says about the candidate (None without a path).

    The histories read are the same model's deployments there: ``<from>/<name>`` and every
    manifest of that environment serving the candidate's model.
    """
    if manifest.promotion is None or candidate is None:
        return None
    source = manifest.promotion.from_env
    keys = [deployment_key(source, split_key(key)[1])]
    with contextlib.suppress(DeployError):  # no manifest of the model there: its key alone
        keys += [k for k in deployer.select(source, model=candidate.model_name) if k not in keys]
    try:
        records = [r for k in keys for r in deployer.store.read_history(k).records]
    except DeployError as exc:
        return PromotionEvidence(env=source, deployed_at=None, error=str(exc))
    found = [
        record.at
        for record in records
        if record.outcome == "succeeded"
        and record.model_ref == candidate.ref
        and record.action in ("apply", "rollback")
    ]
    return PromotionEvidence(env=source, deployed_at=max(found) if found else None)


def upstream_state(
    deployer: Deployer, key: str, *, rules: EnvironmentRules | None = None
) -> UpstreamState | None:
    """What ``key``'s upstream serves of the same model (the promotion-order policy).

    None when the environment has no upstream; an upstream that cannot be read is an
    unhealthy upstream state naming the error.
    """
    env, name = split_key(key)
    upstream_env = (rules or deployer.rules(env)).upstream
    if upstream_env is None:
        return None
    wanted = deployment_key(upstream_env, name)
    try:
        if wanted not in deployer.manifests.names():
            model = deployer.manifests.load(key).manifest.model
            if model is not None:
                wanted = deployer.resolve(upstream_env, model=model.name)
        manifest = deployer.manifests.load(wanted).manifest
        actual = deployer.target(manifest.target.kind).describe(env=wanted, manifest=manifest)
    except DeployError as exc:
        return UpstreamState(env=wanted, model_ref=None, healthy=False, error=str(exc))
    return UpstreamState(env=wanted, model_ref=actual.model_ref, healthy=actual.healthy)
