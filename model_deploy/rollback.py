"""Rollback: go back to an earlier deployment, walking the deploy history.

Without a forge, :func:`run_rollback` changes the endpoint itself (policies are skipped, smoke
tests are not) and the manifest in git is left as is: ``status`` shows the drift until it is
reverted. With a forge, the promotion tooling asks :func:`rollback_manifest` for the manifest
text that would roll back, opens a pull request with it, and lets the normal deploy apply it:
git stays the source of truth.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

from foundation.progress import SILENT, StepReporter
from model_deploy.apply import ApplyResult, as_result, locked_outcome
from model_deploy.changes import POLICY_FIELDS
from model_deploy.converge import Run, converge
from model_deploy.errors import LockedError, ManifestError, ManifestIssue, NoPreviousDeploymentError
from model_deploy.manifest.loader import parse_manifest
from model_deploy.manifest.model import Manifest
from model_deploy.outcome import DeployOutcome
from model_deploy.recovery import recover_interrupted
from model_deploy.service import Deployer
from model_deploy.state import rollback_target
from model_deploy.store.protocol import holding_lock
from model_deploy.store.records import DeployHistory, DeploymentRecord
from model_deploy.targets.protocol import ActualState


def run_rollback(
    deployer: Deployer,
    env: str,
    *,
    to_version: int | None = None,
    progress: StepReporter = SILENT,
) -> DeployOutcome:
    """Put ``env`` back on an earlier deployment and say how it ended.

    Without ``to_version``: the deployment before the serving one (repeated rollbacks walk
    further back). With it: the newest successful deployment of that version.

    Raises:
        NoPreviousDeploymentError: The history holds nothing to go back to.
        ManifestError: The environment has no valid manifest.
    """
    started = time.monotonic()
    env = deployer.resolve(env)
    try:
        with holding_lock(
            deployer.store, env, operation="rollback", ttl=deployer.settings.deploy_lock_ttl
        ) as lock:
            recovered, warnings = recover_interrupted(deployer, env)
            current = deployer.load(env).manifest
            actual = deployer.target(current.target.kind).describe(env=env, manifest=current)
            history = deployer.store.read_history(env)
            warnings += history.warnings
            record = _target_record(deployer, env, history, actual, to_version)
            manifest = Manifest.model_validate(record.manifest)
            if manifest.model is None:
                raise NoPreviousDeploymentError(f"{env}: the deployment found served no model")
            target = deployer.target(manifest.target.kind)
            return converge(
                Run(
                    deployer=deployer,
                    env=env,
                    action="rollback",
                    manifest=manifest,
                    manifest_hash=record.manifest_hash,
                    version=deployer.lookup(manifest.model),
                    target=target,
                    before=actual,
                    lock=lock,
                    kind="rollback",
                    change_kind="rollback",
                    recovered=recovered,
                    warnings=warnings,
                    progress=progress,
                    started=started,
                )
            )
    except LockedError as exc:
        return locked_outcome(deployer, env, "rollback", exc, started=started)


def rollback_env(deployer: Deployer, env: str, *, to_version: int | None = None) -> ApplyResult:
    """:func:`run_rollback`, raising ``LockedError`` or ``ApplyFailed`` when it did not succeed.

    Raises:
        LockedError: Another apply or rollback of ``env`` is running.
        NoPreviousDeploymentError: The history holds nothing to go back to.
        ApplyFailed: Redeploying the earlier version failed; the state before was restored.
    """
    return as_result(run_rollback(deployer, env, to_version=to_version))


@dataclass(frozen=True)
class RollbackManifest:
    """The manifest text that rolls ``env`` back, for a revert pull request.

    Attributes:
        text: The new manifest text (the current text, comments kept, with every deployment
            field set as the chosen deployment had it; policy fields stay as they are now).
        record: The history record rolled back to.
        model_ref: The version it serves.
        changed: Dotted paths of the fields the text changes.
    """

    env: str
    text: str
    record: DeploymentRecord
    model_ref: str
    changed: list[str]


def rollback_manifest(
    deployer: Deployer,
    env: str,
    *,
    current_text: str,
    to_version: int | None = None,
    source: str | None = None,
) -> RollbackManifest:
    """The manifest text that would roll ``env`` back, from ``env``'s history (changes nothing).

    The deployment rolled back to is the newest successful one of ``to_version``, or the one
    before the serving deployment.

    ``current_text`` is the manifest as it is on the base branch; ``source`` names it in errors.

    Raises:
        ManifestError: ``current_text`` is not a valid manifest of ``env``.
        NoPreviousDeploymentError: The history holds no such deployment.
    """
    from model_deploy.changes import field_changes
    from model_deploy.manifest.sources import environment_of

    env = deployer.resolve(env)
    name = source or f"{env}.yaml"
    rules = deployer.rules(env)
    environment = environment_of(env)
    current = parse_manifest(
        text=current_text, source=name, expected_env=environment, rules=rules, key=env
    )
    manifest = current.manifest
    actual = deployer.target(manifest.target.kind).describe(env=env, manifest=manifest)
    history = deployer.store.read_history(env)
    record = _target_record(deployer, env, history, actual, to_version)
    wanted = Manifest.model_validate(record.manifest).model_dump(mode="json")
    text = _edit_text(current_text, manifest.model_dump(mode="json"), wanted, source=name)
    edited = parse_manifest(text=text, source=name, expected_env=environment, rules=rules, key=env)
    changed = field_changes(
        manifest.model_dump(mode="json"), edited.manifest.model_dump(mode="json")
    )
    return RollbackManifest(
        env=env,
        text=text,
        record=record,
        model_ref=str(record.model_ref),
        changed=[path for path, _, _ in changed],
    )


def _target_record(
    deployer: Deployer,
    env: str,
    history: DeployHistory,
    actual: ActualState,
    to_version: int | None,
) -> DeploymentRecord:
    record = rollback_target(
        history.records,
        current_hash=actual.manifest_hash,
        current_version=actual.version,
        to_version=to_version,
    )
    if record is not None:
        return record
    skipped = f" ({'; '.join(history.warnings)})" if history.warnings else ""
    where = deployer.store.location(env)
    if to_version is not None:
        raise NoPreviousDeploymentError(
            f"{env}: no successful deployment of version {to_version} in {where}{skipped}"
        )
    raise NoPreviousDeploymentError(f"{env}: no earlier successful deployment in {where}{skipped}")


def _edit_text(text: str, current: dict[str, Any], wanted: dict[str, Any], *, source: str) -> str:
    """``text`` with every non-policy top-level field set to ``wanted``'s (comments kept).

    ``current`` is what ``text`` means (its environment and defaults filled in); the
    environment comes from the manifest's folder and is never written.
    """
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a line the text did not fold
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(text)
    if not isinstance(document, dict):
        raise ManifestError([ManifestIssue(source, None, 1, "top level is not a mapping")])
    skipped = {*POLICY_FIELDS, "environment"}
    _merge(document, current, {k: v for k, v in wanted.items() if k not in skipped})
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _merge(node: Any, current: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Set in ``node`` (a YAML mapping) the leaves where ``wanted`` differs from ``current``.

    Mappings are merged key by key, so comments and untouched keys stay; any other value
    (a list, a scalar) is replaced whole.
    """
    for key, value in wanted.items():
        if current.get(key) == value:
            continue
        child = node.get(key) if hasattr(node, "get") else None
        if isinstance(value, dict) and isinstance(current.get(key), dict) and hasattr(child, "get"):
            _merge(child, current[key], value)
        else:
            node[key] = value
