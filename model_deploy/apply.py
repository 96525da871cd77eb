"""Apply and rollback: converge an environment, verify it, and undo it by itself on failure.

Both hold the environment's lock (a second concurrent run fails at once with ``LockedError``)
and append one record to the environment's history whatever happens.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from model_build.errors import BuildError
from model_build.registry.protocol import ModelVersion
from model_bundle.bundle import bundle_digest
from model_deploy.errors import (
    ApplyFailed,
    DeployError,
    NoPreviousDeploymentError,
    PolicyViolation,
    TargetError,
)
from model_deploy.manifest.model import Manifest
from model_deploy.service import Deployer
from model_deploy.smoke import SmokeResult, require_passed, run_smoke_tests
from model_deploy.state import (
    DeploymentRecord,
    append_history,
    env_dir,
    env_lock,
    previous_deployment,
    read_history,
)
from model_deploy.targets.protocol import ActualState, DeployRequest, DeployTarget, Invoker

Outcome = Literal["noop", "deployed", "torn_down", "rolled_back_to_previous"]


class ApplyResult(BaseModel):
    """What an apply or rollback did.

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


def apply_env(deployer: Deployer, env: str) -> ApplyResult:
    """Make ``env`` match its manifest (a no-op when already in sync).

    Raises:
        LockedError: Another apply or rollback of ``env`` is running.
        PolicyViolation: A policy refused the change; nothing was touched.
        ApplyFailed: The deploy or its smoke tests failed; the previous state was restored.
    """
    started = time.monotonic()
    with env_lock(state_dir=deployer.state_dir, env=env, operation="apply"):
        assessment = deployer.assess(env)
        plan, actual = assessment.plan, assessment.actual
        if plan.in_sync:
            return _result(
                env, "apply", "noop", plan.summary, actual, actual, [], started, deployer,
                warnings=plan.warnings,
            )  # fmt: skip
        failures = [result.message for result in plan.policies if result.failed]
        if failures:
            raise PolicyViolation(env, failures)
        return _converge(
            deployer,
            env=env,
            action="apply",
            manifest=assessment.loaded.manifest,
            manifest_hash=assessment.loaded.content_hash,
            version=assessment.candidate,
            target=assessment.target,
            before=actual,
            started=started,
            warnings=plan.warnings,
        )


def rollback_env(deployer: Deployer, env: str) -> ApplyResult:
    """Go back to the previous successful deployment in ``env``'s history.

    Policies are not checked (a rollback is the way out of an incident); the smoke tests are.
    The manifest in git is not changed: ``status`` reports the drift until it is reverted.
    Unreadable history lines are skipped with a warning in the result.

    Raises:
        LockedError: Another apply or rollback of ``env`` is running.
        NoPreviousDeploymentError: The history holds nothing to go back to.
        ApplyFailed: Redeploying the previous version failed; the state before was restored.
    """
    started = time.monotonic()
    with env_lock(state_dir=deployer.state_dir, env=env, operation="rollback"):
        current = deployer.load(env).manifest
        target = deployer.target(current.target.kind)
        actual = target.describe(env=env, manifest=current)
        history = read_history(state_dir=deployer.state_dir, env=env)
        record = previous_deployment(
            history.records, current_hash=actual.manifest_hash, current_version=actual.version
        )
        if record is None:
            skipped = f" ({'; '.join(history.warnings)})" if history.warnings else ""
            raise NoPreviousDeploymentError(
                f"{env}: no earlier successful deployment in {deployer.state_dir / env}{skipped}"
            )
        manifest = Manifest.model_validate_json(json.dumps(record.manifest))
        if manifest.model is None:
            raise NoPreviousDeploymentError(f"{env}: the previous deployment served no model")
        target = deployer.target(manifest.target.kind)
        version = deployer.lookup(manifest.model)
        return _converge(
            deployer,
            env=env,
            action="rollback",
            manifest=manifest,
            manifest_hash=record.manifest_hash,
            version=version,
            target=target,
            before=actual,
            started=started,
            warnings=history.warnings,
        )


def _converge(
    deployer: Deployer,
    *,
    env: str,
    action: Literal["apply", "rollback"],
    manifest: Manifest,
    manifest_hash: str,
    version: ModelVersion | None,
    target: DeployTarget,
    before: ActualState,
    started: float,
    warnings: list[str],
) -> ApplyResult:
    git_sha = deployer.git_sha()
    snapshot = manifest.model_dump(mode="json")

    def record(outcome: str, message: str, deployed: ModelVersion | None) -> None:
        append_history(
            state_dir=deployer.state_dir,
            env=env,
            record=DeploymentRecord.model_validate(
                {
                    "action": "teardown" if deployed is None else action,
                    "outcome": outcome,
                    "model_ref": deployed.ref if deployed else None,
                    "version": deployed.version if deployed else None,
                    "artifact_digest": deployed.artifact_digest if deployed else None,
                    "manifest_hash": manifest_hash,
                    "manifest": snapshot,
                    "git_sha": git_sha,
                    "message": message,
                }
            ),
        )

    if manifest.model is None or version is None:
        target.stop(env=env, manifest=manifest)
        after = target.describe(env=env, manifest=manifest)
        message = f"{env}: tore down {before.model_ref or 'the deployment'}"
        record("succeeded", message, None)
        return _result(
            env, action, "torn_down", message, before, after, [], started, deployer,
            warnings=warnings,
        )  # fmt: skip

    smoke: list[SmokeResult] = []

    def verify(invoke: Invoker) -> None:
        smoke.extend(
            run_smoke_tests(
                manifest.smoke_tests, invoke=invoke, expected_digest=version.artifact_digest
            )
        )
        require_passed(smoke)

    request = DeployRequest(
        env=env,
        manifest=manifest,
        manifest_hash=manifest_hash,
        version=version,
        bundle_dir=(
            _fetch_bundle(deployer, env, version, registry=manifest.model.registry)
            if target.kind == "local"
            else None
        ),
        git_sha=git_sha,
    )
    try:
        after = target.deploy(request=request, verify=verify)
        if not after.healthy:
            raise TargetError(f"{version.ref} is not healthy after the deploy")
    except DeployError as exc:
        cause = str(exc)
        try:
            restored_state = target.rollback(env=env, manifest=manifest, previous=before)
            restored = restored_state.model_ref == before.model_ref and (
                restored_state.healthy or not before.healthy
            )
        except DeployError as again:
            restored, cause = False, f"{cause}; the rollback failed too: {again}"
        record("rolled_back" if restored else "failed", cause, version)
        raise ApplyFailed(env, cause, restored=restored) from exc
    verb = "rolled back to" if action == "rollback" else "deployed"
    message = f"{env}: {verb} {version.ref} ({len(smoke)} smoke test(s) passed)"
    record("succeeded", message, version)
    outcome: Outcome = "rolled_back_to_previous" if action == "rollback" else "deployed"
    return _result(
        env, action, outcome, message, before, after, smoke, started, deployer, warnings=warnings
    )


def _fetch_bundle(deployer: Deployer, env: str, version: ModelVersion, *, registry: str) -> Path:
    """Copy the version's bundle under the environment's state folder and check its digest."""
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


def _result(
    env: str,
    action: Literal["apply", "rollback"],
    outcome: Outcome,
    message: str,
    before: ActualState,
    after: ActualState,
    smoke: list[SmokeResult],
    started: float,
    deployer: Deployer,
    *,
    warnings: list[str],
) -> ApplyResult:
    return ApplyResult(
        env=env,
        action=action,
        outcome=outcome,
        message=message,
        before=before,
        after=after,
        smoke_tests=smoke,
        seconds=round(time.monotonic() - started, 3),
        finished_at=deployer.clock(),
        warnings=list(warnings),
    )
