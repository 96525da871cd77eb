"""Converge one environment: write-ahead intent, deploy through its target, verify, undo on failure.

The run's intent (what it deploys, what served before, which traffic step it is at) is written
to the state store before anything changes and again before every traffic step, and the lock is
refreshed with it; a run killed at any point leaves an intent that the next apply or status
finds (:mod:`model_deploy.recovery`). Whatever happens, one record is appended to the history
and the intent is cleared.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from foundation.progress import SILENT, StepReporter
from model_build.errors import BuildError
from model_build.registry.protocol import ModelVersion
from model_bundle.bundle import bundle_digest
from model_bundle.task import DEFAULT_TASK
from model_deploy.changes import ChangeKind
from model_deploy.errors import DeployError, SmokeTestError, TargetError
from model_deploy.manifest.model import Manifest
from model_deploy.outcome import DeployOutcome, classify_failure
from model_deploy.service import Deployer
from model_deploy.smoke import SmokeResult, require_passed, run_smoke_tests
from model_deploy.state import env_dir
from model_deploy.store.protocol import LockHandle
from model_deploy.store.records import DeployIntent, DeploymentRecord
from model_deploy.targets.protocol import ActualState, DeployRequest, DeployTarget, Invoker


@dataclass
class Run:
    """One apply or rollback about to change an environment.

    Attributes:
        kind: The change kind underneath (an emergency's real kind): it decides the cause
            of a failure.
        change_kind: The plan's change kind (``emergency`` for an emergency).
        needs_owner_approval: Carried into the outcome from the plan.
        recovered: What an earlier interrupted run became (found before this one started).
    """

    deployer: Deployer
    env: str
    action: Literal["apply", "rollback"]
    manifest: Manifest
    manifest_hash: str
    version: ModelVersion | None
    target: DeployTarget
    before: ActualState
    lock: LockHandle
    kind: ChangeKind
    change_kind: ChangeKind
    emergency: str | None = None
    needs_owner_approval: list[str] = field(default_factory=list)
    recovered: str | None = None
    warnings: list[str] = field(default_factory=list)
    progress: StepReporter = SILENT
    started: float = field(default_factory=time.monotonic)


class IntentJournal:
    """Writes the run's intent ahead of each traffic step and refreshes its lock with it."""

    def __init__(self, run: Run, intent: DeployIntent) -> None:
        self.run = run
        self.intent = intent
        self._step_started = time.monotonic()
        self._refreshed = time.monotonic()
        self._label = ""

    def write(self, **changes: Any) -> None:
        """Replace the intent with ``changes`` applied; refresh the lock.

        Raises:
            LockedError: The lock was lost (the deploy then stops and rolls back).
        """
        self.intent = self.intent.model_copy(update={**changes, "updated_at": datetime.now(UTC)})
        self.run.deployer.store.write_intent(self.run.env, self.intent)
        self.run.lock.refresh()
        self._refreshed = time.monotonic()

    def heartbeat(self) -> None:
        """Refresh the lock when a tenth of its lease has passed since the last refresh.

        Raises:
            LockedError: The lock was lost.
        """
        if time.monotonic() - self._refreshed >= self.run.lock.ttl / 10:
            self.run.lock.refresh()
            self._refreshed = time.monotonic()

    def before_step(self, *, index: int, total: int, percent: int) -> None:
        """Write ahead that step ``index`` sends ``percent`` % to the new version."""
        self.write(phase="traffic", step=index, steps=total, percent=percent)
        self._label = f"step {index}/{total}: {percent}% of traffic on {self.intent.desired_ref}"
        self._step_started = time.monotonic()
        self.run.progress.started(f"traffic-{index}", self._label)

    def after_switch(self, *, index: int, total: int, percent: int) -> None:
        """The step's split is live (its bake follows)."""
        self.run.progress.finished(
            f"traffic-{index}",
            self._label,
            ok=True,
            seconds=round(time.monotonic() - self._step_started, 3),
        )

    def finishing(self) -> None:
        """Write ahead that the old version is about to be stopped."""
        self.write(phase="finishing")
        self.run.progress.started("finishing", "verified; stopping the previous version")


def converge(run: Run) -> DeployOutcome:
    """Deploy ``run.version`` (or tear down), verify, and undo by itself on failure.

    Returns ``applied``, ``rolled-back`` (with its cause) or ``rollback-failed``.
    """
    deployer, env, manifest, version = run.deployer, run.env, run.manifest, run.version
    git_sha = deployer.git_sha()
    now = datetime.now(UTC)
    intent = DeployIntent(
        id=uuid.uuid4().hex,
        env=env,
        action=run.action,
        owner=run.lock.lease.note.owner,
        started_at=now,
        updated_at=now,
        desired_ref=version.ref if version else None,
        manifest_hash=run.manifest_hash,
        manifest=manifest.model_dump(mode="json"),
        before=run.before,
        change_kind=run.change_kind,
        emergency=run.emergency,
    )
    journal = IntentJournal(run, intent)
    journal.write()

    def record(outcome: str, message: str, *, cause: str | None = None) -> None:
        append_record(
            deployer,
            env,
            run=run,
            intent=journal.intent,
            outcome=outcome,
            message=message,
            cause=cause,
            git_sha=git_sha,
        )
        deployer.store.clear_intent(env)

    if manifest.model is None or version is None:
        run.target.stop(env=env, manifest=manifest)
        after = run.target.describe(env=env, manifest=manifest)
        message = f"{env}: tore down {run.before.model_ref or 'the deployment'}"
        record("succeeded", message)
        return _outcome(run, "applied", message, after=after)

    smoke: list[SmokeResult] = []

    def verify(invoke: Invoker) -> None:
        smoke.extend(
            run_smoke_tests(
                manifest.smoke_tests,
                invoke=invoke,
                expected_digest=version.artifact_digest,
                task=version.task,
            )
        )
        require_passed(smoke)

    try:
        request = DeployRequest(
            env=env,
            manifest=manifest,
            manifest_hash=run.manifest_hash,
            version=version,
            bundle_dir=(
                fetch_bundle(deployer, env, version, registry=manifest.model.registry)
                if run.target.kind == "local"
                else None
            ),
            git_sha=git_sha,
            journal=journal,
        )
        after = run.target.deploy(request=request, verify=verify)
        if not after.healthy:
            raise TargetError(f"{version.ref} is not healthy after the deploy")
    except DeployError as exc:
        return _undo(run, exc, journal=journal, smoke=smoke, record=record)
    verb = "rolled back to" if run.action == "rollback" else "deployed"
    message = f"{env}: {verb} {version.ref} ({len(smoke)} smoke test(s) passed)"
    record("succeeded", message)
    return _outcome(run, "applied", message, after=after, smoke=smoke)


def _undo(
    run: Run,
    error: DeployError,
    *,
    journal: IntentJournal,
    smoke: list[SmokeResult],
    record: Callable[..., None],
) -> DeployOutcome:
    """Put the state read before back, decide the cause, record it."""
    env, manifest, before, target = run.env, run.manifest, run.before, run.target
    failure = str(error)
    journal.intent = journal.intent.model_copy(update={"phase": "rolling_back"})
    run.deployer.store.write_intent(env, journal.intent)
    after: ActualState | None = None
    try:
        after = target.rollback(env=env, manifest=manifest, previous=before)
        restored = after.model_ref == before.model_ref and (after.healthy or not before.healthy)
    except DeployError as again:
        restored, failure = False, f"{failure}; the rollback failed too: {again}"
    baseline: list[SmokeResult] | None = None
    serving = before.model_ref if before.deployed else None
    if restored and isinstance(error, SmokeTestError) and serving and manifest.smoke_tests:
        baseline = run_smoke_tests(
            manifest.smoke_tests,
            invoke=lambda rows: target.invoke(env=env, manifest=manifest, instances=rows),
            expected_digest=before.artifact_digest,
            task=run.version.task if run.version is not None else DEFAULT_TASK,
        )
    cause, why = classify_failure(error, kind=run.kind, baseline=baseline, serving=serving)
    record("rolled_back" if restored else "failed", failure, cause=cause)
    if restored:
        message = (
            f"{env}: apply failed: {failure}; rolled back to the previous deployment, which is "
            "serving"
        )
    else:
        message = (
            f"{env}: apply failed: {failure}; the rollback did not complete; check "
            "`slipway deploy status`"
        )
    return _outcome(
        run,
        "rolled-back" if restored else "rollback-failed",
        message,
        after=after,
        smoke=smoke,
        baseline=baseline or [],
        cause=cause,
        reasons=[failure, f"cause: {cause}: {why}"],
    )


def append_record(
    deployer: Deployer,
    env: str,
    *,
    run: Run | None,
    intent: DeployIntent,
    outcome: str,
    message: str,
    cause: str | None = None,
    git_sha: str | None = None,
    interrupted: bool = False,
) -> None:
    """Append the history record of the run ``intent`` describes."""
    desired = intent.desired_ref
    version = run.version if run is not None else None
    deployer.store.append_history(
        env,
        DeploymentRecord.model_validate(
            {
                "action": "teardown" if desired is None else intent.action,
                "outcome": outcome,
                "model_ref": desired,
                "version": version.version if version else _number(desired),
                "artifact_digest": version.artifact_digest if version else None,
                "manifest_hash": intent.manifest_hash,
                "manifest": intent.manifest,
                "git_sha": git_sha or deployer.git_sha(),
                "message": message,
                "change_kind": intent.change_kind,
                "emergency": intent.emergency,
                "cause": cause,
                "interrupted": interrupted,
                "run_id": intent.id,
            }
        ),
    )


def _number(ref: str | None) -> int | None:
    tail = ref.rpartition(":")[2] if ref else ""
    return int(tail) if tail.isdigit() else None


def _outcome(
    run: Run,
    outcome: Literal["applied", "rolled-back", "rollback-failed"],
    message: str,
    *,
    after: ActualState | None,
    smoke: list[SmokeResult] | None = None,
    baseline: list[SmokeResult] | None = None,
    cause: Literal["model", "config", "infrastructure"] | None = None,
    reasons: list[str] | None = None,
) -> DeployOutcome:
    return DeployOutcome(
        env=run.env,
        action=run.action,
        outcome=outcome,
        cause=cause,
        change_kind=run.change_kind,
        message=message,
        reasons=list(reasons or []),
        desired=run.version.ref if run.version else None,
        previously_serving=run.before.model_ref,
        now_serving=after.model_ref if after else None,
        emergency=run.emergency,
        needs_owner_approval=list(run.needs_owner_approval),
        smoke_tests=list(smoke or []),
        baseline_smoke_tests=list(baseline or []),
        recovered=run.recovered,
        warnings=list(run.warnings),
        seconds=round(time.monotonic() - run.started, 3),
        finished_at=run.deployer.clock(),
        before=run.before,
        after=after,
    )


def fetch_bundle(deployer: Deployer, env: str, version: ModelVersion, *, registry: str) -> Path:
    """Copy the version's bundle under the environment's state folder and check its digest.

    Raises:
        TargetError: It cannot be fetched or its digest differs from the registry's.
    """
    folder = env_dir(state_dir=deployer.state_dir, env=env) / "bundles"
    name = f"{version.model_name}-v{version.version}-{version.artifact_digest[7:19]}"
    final = folder / name
    if final.is_dir() and _digest_or_none(final) == version.artifact_digest:
        return final
    staging = folder / f".{name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    try:
        fetched = deployer.registry(registry).fetch_bundle(
            model_name=version.model_name, version=version.version, directory=staging
        )
        digest = _digest_or_none(fetched)
        if digest != version.artifact_digest:
            raise TargetError(
                f"{version.ref}: the fetched bundle's digest {digest} differs from the "
                f"registry's {version.artifact_digest}; refusing to deploy it"
            )
        fetched.rename(final)
    except OSError as exc:
        raise TargetError(f"{version.ref}: cannot copy the bundle to {final}: {exc}") from exc
    except BuildError as exc:
        raise TargetError(f"{version.ref}: cannot fetch the bundle: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _digest_or_none(folder: Path) -> str | None:
    try:
        return bundle_digest(directory=folder)
    except OSError:
        return None
