"""Interrupted runs: found by the next apply, rollback or status, and finished or undone.

A run killed mid-way (SIGKILL, a lost runner) leaves its intent in the state store and its lock
stale (its process is gone, or the lease expired). The next run that takes the lock finds the
intent and, before doing anything else:

1. asks the target to reconcile: all traffic on one version, every process or resource of the
   unfinished deploy that is not part of it stopped (no hidden split, no orphan);
2. goes back to what served before the interrupted run, unless that run had already verified
   the new version and was only stopping the old one (then it is finished instead);
3. appends the run's history record (``interrupted: true``) and clears the intent.
"""

from __future__ import annotations

from model_deploy.converge import append_record
from model_deploy.errors import DeployError
from model_deploy.manifest.model import Manifest
from model_deploy.service import Deployer
from model_deploy.store.records import DeployIntent
from model_deploy.targets.protocol import ActualState


def recover_interrupted(deployer: Deployer, env: str) -> tuple[str | None, list[str]]:
    """Finish or undo an interrupted run of ``env``; the caller holds the lock.

    Returns what became of it (None when there was none) and warnings.
    """
    found = deployer.store.read_intent(env)
    if not found.found:
        return None, []
    warnings = list(found.warnings)
    intent = found.intent
    manifest = _manifest_of(deployer, env, intent, warnings)
    if manifest is None:
        deployer.store.clear_intent(env)
        return "an interrupted run left an unreadable intent; nothing to reconcile", warnings
    target = deployer.target(manifest.target.kind)
    history = deployer.store.read_history(env)
    if intent is not None and any(r.run_id == intent.id for r in history.records):
        deployer.store.clear_intent(env)  # it ended and was recorded, then died: done already
        return None, warnings
    actual = target.reconcile(env=env, manifest=manifest)
    before = intent.before if intent is not None else None
    if intent is not None and intent.desired_ref is None:
        target.stop(env=env, manifest=manifest)  # a teardown: finish it
        actual = target.describe(env=env, manifest=manifest)
    elif (
        intent is not None
        and intent.phase != "finishing"
        and before is not None
        and before.deployed
        and _key(actual) != _key(before)
    ):
        try:
            actual = target.rollback(env=env, manifest=manifest, previous=before)
        except DeployError as exc:
            warnings.append(f"cannot go back to {before.model_ref}: {exc}")
    what = intent.describe() if intent is not None else "a run"
    if before is not None and _key(actual) == _key(before):
        outcome, became = "rolled_back", f"rolled back to {before.model_ref or 'nothing'}"
    elif (
        intent is not None
        and actual.model_ref == intent.desired_ref
        and (actual.healthy or intent.desired_ref is None)
    ):
        outcome, became = "succeeded", f"finished: {actual.model_ref or 'nothing'} serves"
    else:
        outcome, became = "failed", f"{actual.model_ref or 'nothing'} serves, unhealthy"
    message = f"{env}: found an interrupted {what}; {became}"
    if intent is not None:
        append_record(
            deployer,
            env,
            run=None,
            intent=intent,
            outcome=outcome,
            message=message,
            interrupted=True,
        )
    deployer.store.clear_intent(env)
    return message, warnings


def _manifest_of(
    deployer: Deployer, env: str, intent: DeployIntent | None, warnings: list[str]
) -> Manifest | None:
    """The manifest the interrupted run applied (else the current one)."""
    if intent is not None:
        try:
            return Manifest.model_validate(intent.manifest)
        except ValueError:
            warnings.append("the interrupted run's manifest is unreadable; using the current one")
    try:
        return deployer.load(env).manifest
    except DeployError as exc:
        warnings.append(f"cannot load {env}'s manifest to reconcile it: {exc}")
        return None


def _key(state: ActualState) -> tuple[bool, str | None, str | None]:
    return state.deployed, state.model_ref, state.manifest_hash if state.deployed else None
