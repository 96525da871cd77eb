"""What every deploy target offers: read the actual state, deploy, check, invoke, roll back, stop.

Targets: ``local`` (inference processes behind a per-environment router on 127.0.0.1, the
embedded default) and ``sagemaker`` (real-time endpoints through boto3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from model_build.registry.protocol import ModelVersion
from model_deploy.manifest.model import Manifest

TargetKind = Literal["local", "sagemaker"]

Invoker = Callable[[list[dict[str, Any]]], dict[str, Any]]
"""Sends ``{"instances": rows}`` to one endpoint and returns its decoded JSON answer."""

Verifier = Callable[[Invoker], None]
"""Checks a new endpoint through an invoker (the smoke tests); raises ``SmokeTestError``."""


class StepJournal(Protocol):
    """Told about every traffic step a deploy takes (the deployer writes its intent here).

    ``before_step`` runs before the target changes anything for the step (write-ahead: a run
    killed during the step leaves an intent that says so); ``after_switch`` once the step's
    traffic split is live (its bake follows); ``finishing`` once the new version is verified
    and takes all traffic, before the old one is stopped; ``heartbeat`` while the target waits
    (a bake, an endpoint update), so the deployer keeps its lock alive. A journal that raises
    (the lock was lost) aborts the deploy, which then rolls back.
    """

    def before_step(self, *, index: int, total: int, percent: int) -> None:
        """Step ``index`` of ``total`` is about to send ``percent`` % to the new version."""
        ...

    def after_switch(self, *, index: int, total: int, percent: int) -> None:
        """Step ``index`` of ``total`` now sends ``percent`` % to the new version."""
        ...

    def finishing(self) -> None:
        """The new version takes all traffic; the old one is about to be stopped."""
        ...

    def heartbeat(self) -> None:
        """The deploy is still running (called often; the journal decides when to act)."""
        ...


class _NoJournal:
    def before_step(self, *, index: int, total: int, percent: int) -> None:
        """Record nothing."""

    def after_switch(self, *, index: int, total: int, percent: int) -> None:
        """Record nothing."""

    def finishing(self) -> None:
        """Record nothing."""

    def heartbeat(self) -> None:
        """Record nothing."""


NO_JOURNAL: StepJournal = _NoJournal()
"""A journal that records nothing (targets driven directly, as in the contract suite)."""


class ActualState(BaseModel):
    """What a target is really serving for one environment.

    The fields every target fills are typed here; what only one kind of target knows lives in
    two generic mappings the target owns: ``settings`` (compared by the plan against the
    manifest target's ``settings()``, same keys) and ``details`` (facts shown as they are).

    Attributes:
        deployed: Whether a deployment exists (it may still be unhealthy).
        healthy: Whether it answers its health check.
        endpoint: Where it answers (URL or endpoint name).
        traffic: Share of requests (percent) per model reference (``driver_ranking:2``) or,
            when the target cannot tell which version a destination serves, per destination.
        data_capture_percentage: Capture sampling percentage (0 when off), or None if unknown.
        strategy: Deployment strategy recorded at deploy time (``canary 20% / 2 min``), if known.
        settings: Target-specific settings read back (instance count, autoscaling...).
        notes: Findings a reader must see (stale pid file, unmanaged config, ...).
        details: Target-specific facts (process ids, endpoint config name, bundle path).
    """

    model_config = ConfigDict(frozen=True)

    env: str
    target: TargetKind
    deployed: bool
    healthy: bool = False
    model_name: str | None = None
    version: int | None = None
    artifact_digest: str | None = None
    manifest_hash: str | None = None
    git_sha: str | None = None
    endpoint: str | None = None
    traffic: dict[str, float] = Field(default_factory=dict)
    data_capture_percentage: int | None = None
    strategy: str | None = None
    settings: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    details: dict[str, str] = Field(default_factory=dict)

    @property
    def model_ref(self) -> str | None:
        """``<model>:<version>`` when both are known."""
        if self.model_name is None or self.version is None:
            return None
        return f"{self.model_name}:{self.version}"


@dataclass(frozen=True)
class DeployRequest:
    """Everything a target needs to deploy one manifest.

    Attributes:
        manifest: The desired state (its ``model`` is set).
        version: The registry record of the version to serve.
        bundle_dir: Local copy of the bundle (local target), or None.
        git_sha: Commit of the manifest repo.
        journal: Told about every traffic step (the deployer's write-ahead intent).
    """

    env: str
    manifest: Manifest
    manifest_hash: str
    version: ModelVersion
    bundle_dir: Path | None
    git_sha: str
    journal: StepJournal = field(default=NO_JOURNAL)


@runtime_checkable
class DeployTarget(Protocol):
    """A place that serves models; one instance serves every environment of its kind.

    Every method takes the environment's manifest (it says where the environment is served).
    ``tests/contract/test_deploy_target_contract.py`` holds every target to this contract.
    """

    kind: TargetKind

    def describe(self, *, env: str, manifest: Manifest) -> ActualState:
        """Read what is actually serving (never changes anything).

        Nothing deployed, or a missing or corrupt state record, reads as ``deployed=False``
        (with a note saying what was wrong), never as an error.
        """
        ...

    def deploy(self, *, request: DeployRequest, verify: Verifier) -> ActualState:
        """Converge to the request: bring the new version up, verify it, shift traffic.

        Each traffic step is announced to ``request.journal`` first; each bake checks the new
        version's error rate and latency (``manifest.bake``) or its CloudWatch alarms. Raises
        ``TargetError``, ``SmokeTestError`` or ``BakeCheckError`` on failure; the caller then
        calls :meth:`rollback` with the state read before.
        """
        ...

    def health(self, *, env: str, manifest: Manifest) -> bool:
        """Whether the environment's endpoint answers its health check (False when absent)."""
        ...

    def invoke(
        self, *, env: str, manifest: Manifest, instances: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Score rows through the environment's endpoint (what clients call).

        Raises ``TargetError`` when the endpoint refuses or fails the request.
        """
        ...

    def rollback(self, *, env: str, manifest: Manifest, previous: ActualState) -> ActualState:
        """Return to a state read earlier with :meth:`describe` (after a failed deploy)."""
        ...

    def stop(self, *, env: str, manifest: Manifest) -> None:
        """Remove the environment's deployment (``model: null``); nothing deployed is a no-op."""
        ...

    def reconcile(self, *, env: str, manifest: Manifest) -> ActualState:
        """Bring the environment back to one consistent state after a deploy was interrupted.

        All traffic goes to one version (the one the target's own record says is active, or,
        when that one is gone, a new version that was already verified), an update still in
        flight is waited for, and every process or resource of an unfinished deploy that is
        not part of that state is stopped. Nothing interrupted is a no-op.
        """
        ...


def describe_strategy(manifest: Manifest) -> str:
    """``all at once``, ``canary 20% / bake 2 min`` or ``linear 25% every 5 min``."""
    strategy = manifest.strategy
    if strategy.type == "canary":
        return f"canary {strategy.percent}% / bake {_minutes(strategy.bake_minutes)} min"
    if strategy.type == "linear":
        return f"linear {strategy.step_percent}% every {_minutes(strategy.interval_minutes)} min"
    return "all at once"


def _minutes(value: float) -> str:
    return f"{value:g}"
