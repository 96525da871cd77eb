"""Apply: converge an environment to its manifest, and tell exactly how it ended.

:func:`run_apply` never raises for an expected ending: it returns a
:class:`~model_deploy.outcome.DeployOutcome` (applied, no-op, refused, locked, rolled-back with
its cause, rollback-failed), which the CLI prints and turns into a distinct exit code.
:func:`apply_env` is the same run for callers that want exceptions (``PolicyViolation``,
``LockedError``, ``ApplyFailed``) and an :class:`ApplyResult`.

Every run holds the environment's lock; first it finishes or undoes a run that was interrupted
(:mod:`model_deploy.recovery`), then it plans, checks policies and, for a config change, runs
the new smoke tests against the serving version before changing anything.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from foundation.progress import SILENT, StepReporter
from model_bundle.task import DEFAULT_TASK
from model_deploy.converge import Run, converge
from model_deploy.errors import ApplyFailed, LockedError, PolicyViolation
from model_deploy.manifest.sources import ManifestSource
from model_deploy.outcome import DeployOutcome
from model_deploy.plan import Plan
from model_deploy.recovery import recover_interrupted
from model_deploy.service import Assessment, Deployer
from model_deploy.smoke import SmokeResult, run_smoke_tests
from model_deploy.store.protocol import holding_lock
from model_deploy.targets.protocol import ActualState

Outcome = Literal["noop", "deployed", "torn_down", "rolled_back_to_previous"]


class ApplyResult(BaseModel):
    """What a successful apply or rollback did (see :func:`apply_env`).

    Attributes:
        outcome: ``noop``, ``deployed``, ``torn_down`` or ``rolled_back_to_previous``.
        message: One line.
        before: Actual state before.
        after: Actual state after.
        smoke_tests: Smoke test results (empty when none ran).
        seconds: Duration.
        warnings: What could not be checked on the way (the plan's warnings, unreadable
            history lines), shown with the result.
    """

    model_config = ConfigDict(frozen=True)

    env: str
    action: Literal["apply", "rollback"]
    outcome: Outcome
    message: str
    before: ActualState
    after: ActualState
    smoke_tests: list[SmokeResult]
    seconds: float
    finished_at: datetime
    warnings: list[str] = []


def run_apply(
    deployer: Deployer,
    env: str,
    *,
    emergency: str | None = None,
    policy: ManifestSource | None = None,
    progress: StepReporter = SILENT,
) -> DeployOutcome:
    """Make ``env`` match its manifest and say how it ended (see :mod:`model_deploy.outcome`).

    ``env`` is a deployment key ``<env>/<name>``, or an environment with one manifest.

    ``emergency`` (a reason) flags an emergency change: a freeze window is waived (the
    owners' approval is the promotion tooling's to check) and the reason is recorded in the
    plan, the outcome and the history. ``policy`` is where policy fields come from (default:
    the manifest itself). ``progress`` hears about every traffic step.

    Raises:
        ManifestError: The manifest is missing or invalid.
        SettingsError: A setting is invalid.
        StateStoreError: The state store failed.
    """
    started = time.monotonic()
    env = deployer.resolve(env)
    try:
        with holding_lock(
            deployer.store, env, operation="apply", ttl=deployer.settings.deploy_lock_ttl
        ) as lock:
            recovered, warnings = recover_interrupted(deployer, env)
            if lock.lease.took_over and recovered is None:
                warnings.append(lock.lease.took_over)
            assessment = deployer.assess(env, policy=policy, emergency=emergency)
            plan = assessment.plan
            warnings = [*warnings, *plan.warnings]
            if plan.in_sync:
                return _ending(
                    deployer,
                    plan,
                    "no-op",
                    plan.summary,
                    assessment,
                    started,
                    recovered=recovered,
                    warnings=warnings,
                )
            failures = [result.message for result in plan.policies if result.failed]
            if failures:
                message = f"{env}: refused by policy: " + " ".join(failures)
                return _ending(
                    deployer,
                    plan,
                    "refused",
                    message,
                    assessment,
                    started,
                    reasons=failures,
                    recovered=recovered,
                    warnings=warnings,
                )
            refusal = _config_check(deployer, env, assessment)
            if refusal is not None:
                message = f"{env}: refused: {refusal[0]}"
                return _ending(
                    deployer,
                    plan,
                    "refused",
                    message,
                    assessment,
                    started,
                    reasons=[refusal[0]],
                    recovered=recovered,
                    warnings=warnings,
                    cause="config",
                    baseline=refusal[1],
                )
            return converge(
                Run(
                    deployer=deployer,
                    env=env,
                    action="apply",
                    manifest=assessment.loaded.manifest,
                    manifest_hash=assessment.loaded.content_hash,
                    version=assessment.candidate,
                    target=assessment.target,
                    before=assessment.actual,
                    lock=lock,
                    kind=assessment.kind,
                    change_kind=plan.change_kind,
                    emergency=plan.emergency,
                    needs_owner_approval=plan.needs_owner_approval,
                    recovered=recovered,
                    warnings=warnings,
                    progress=progress,
                    started=started,
                )
            )
    except LockedError as exc:
        return locked_outcome(deployer, env, "apply", exc, started=started)


def apply_env(deployer: Deployer, env: str, *, emergency: str | None = None) -> ApplyResult:
    """Make ``env`` match its manifest (a no-op when already in sync); see :func:`run_apply`.

    Raises:
        LockedError: Another apply or rollback of ``env`` is running.
        PolicyViolation: A policy refused the change; nothing was touched.
        ApplyFailed: The deploy or its smoke tests failed; the previous state was restored
            (``restored``) or could not be.
    """
    return as_result(run_apply(deployer, env, emergency=emergency))


def rollback_env(deployer: Deployer, env: str, *, to_version: int | None = None) -> ApplyResult:
    """Go back to an earlier deployment; see :func:`model_deploy.rollback.rollback_env`."""
    from model_deploy.rollback import rollback_env as roll_back

    return roll_back(deployer, env, to_version=to_version)


def as_result(outcome: DeployOutcome) -> ApplyResult:
    """The :class:`ApplyResult` of a successful outcome; raise the matching error otherwise.

    Raises:
        LockedError: ``locked``.
        PolicyViolation: ``refused``.
        ApplyFailed: ``rolled-back`` or ``rollback-failed``.
    """
    env = outcome.env
    if outcome.outcome == "locked":
        raise LockedError(outcome.message, holder=outcome.reasons[0] if outcome.reasons else None)
    if outcome.outcome == "refused":
        raise PolicyViolation(env, outcome.reasons)
    if outcome.outcome in ("rolled-back", "rollback-failed"):
        raise ApplyFailed(env, outcome.reasons[0], restored=outcome.outcome == "rolled-back")
    before = outcome.before or ActualState(env=env, target="local", deployed=False)
    after = outcome.after or before
    if outcome.outcome == "no-op":
        kind: Outcome = "noop"
    elif outcome.action == "rollback":
        kind = "rolled_back_to_previous"
    else:
        kind = "torn_down" if outcome.desired is None else "deployed"
    return ApplyResult(
        env=env,
        action=outcome.action,
        outcome=kind,
        message=outcome.message,
        before=before,
        after=after,
        smoke_tests=outcome.smoke_tests,
        seconds=outcome.seconds,
        finished_at=outcome.finished_at,
        warnings=outcome.warnings,
    )


def locked_outcome(
    deployer: Deployer,
    env: str,
    action: Literal["apply", "rollback"],
    error: LockedError,
    *,
    started: float,
) -> DeployOutcome:
    """The ``locked`` outcome of a run that could not take the lock."""
    return DeployOutcome(
        env=env,
        action=action,
        outcome="locked",
        message=str(error),
        reasons=[error.holder] if error.holder else [],
        seconds=round(time.monotonic() - started, 3),
        finished_at=deployer.clock(),
    )


def _config_check(
    deployer: Deployer, env: str, assessment: Assessment
) -> tuple[str, list[SmokeResult]] | None:
    """For a config change: the new smoke tests against the serving version, first.

    Returns why they fail (and the results), or None when they pass or do not apply.
    """
    manifest, actual = assessment.loaded.manifest, assessment.actual
    if assessment.kind != "config" or manifest.model is None or not manifest.smoke_tests:
        return None
    if not (actual.deployed and actual.healthy and actual.model_ref == manifest.model.ref):
        return None
    target = assessment.target
    results = run_smoke_tests(
        manifest.smoke_tests,
        invoke=lambda rows: target.invoke(env=env, manifest=manifest, instances=rows),
        expected_digest=actual.artifact_digest,
        task=assessment.candidate.task if assessment.candidate else DEFAULT_TASK,
    )
    failed = [f"{r.name!r}: {r.message}" for r in results if not r.passed]
    if not failed:
        return None
    return (
        f"the new smoke tests fail against the serving {actual.model_ref}, which this config "
        f"change keeps: {'; '.join(failed)}",
        results,
    )


def _ending(
    deployer: Deployer,
    plan: Plan,
    outcome: Literal["no-op", "refused"],
    message: str,
    assessment: Assessment,
    started: float,
    *,
    reasons: list[str] | None = None,
    recovered: str | None,
    warnings: list[str],
    cause: Literal["config"] | None = None,
    baseline: list[SmokeResult] | None = None,
) -> DeployOutcome:
    """An outcome of a run that changed nothing."""
    actual = assessment.actual
    return DeployOutcome(
        env=plan.env,
        action="apply",
        outcome=outcome,
        cause=cause,
        change_kind=plan.change_kind,
        message=message,
        reasons=list(reasons or []),
        desired=plan.desired_ref,
        previously_serving=actual.model_ref,
        now_serving=actual.model_ref,
        emergency=plan.emergency,
        needs_owner_approval=plan.needs_owner_approval,
        baseline_smoke_tests=list(baseline or []),
        recovered=recovered,
        warnings=list(dict.fromkeys(warnings)),
        seconds=round(time.monotonic() - started, 3),
        finished_at=deployer.clock(),
        before=actual,
        after=actual,
    )
