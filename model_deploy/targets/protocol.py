"""What every deploy target offers: read the actual state, deploy, check, invoke, roll back, stop.

Targets: ``local`` (inference processes behind a per-environment router on 127.0.0.1, the
embedded default) and ``sagemaker`` (real-time endpoints through boto3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


class ActualState(BaseModel):
    """What a target is really serving for one environment.

    Attributes:
        env: Environment name.
        target: Target kind.
        deployed: Whether a deployment exists (it may still be unhealthy).
        healthy: Whether it answers its health check.
        model_name: Model served, if known.
        version: Version served, if known.
        artifact_digest: Digest of the bundle served, if known.
        manifest_hash: Hash of the manifest it was deployed from, if known.
        git_sha: Commit of the manifest repo it was deployed from, if known.
        endpoint: Where it answers (URL or endpoint name).
        instance_type: Instance type (SageMaker), or None.
        instance_count: Instances running, or None.
        autoscaling_min: Autoscaling lower bound, or None when not configured.
        autoscaling_max: Autoscaling upper bound, or None when not configured.
        data_capture_percentage: Capture sampling percentage (0 when off), or None if unknown.
        strategy: Deployment strategy recorded at deploy time (``canary 20% / 2 min``), if known.
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
    instance_type: str | None = None
    instance_count: int | None = None
    autoscaling_min: int | None = None
    autoscaling_max: int | None = None
    data_capture_percentage: int | None = None
    strategy: str | None = None
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
        env: Environment name.
        manifest: The desired state (its ``model`` is set).
        manifest_hash: Hash of the manifest.
        version: The registry record of the version to serve.
        bundle_dir: Local copy of the bundle (local target), or None.
        git_sha: Commit of the manifest repo.
    """

    env: str
    manifest: Manifest
    manifest_hash: str
    version: ModelVersion
    bundle_dir: Path | None
    git_sha: str


@runtime_checkable
class DeployTarget(Protocol):
    """A place that serves models; one instance serves every environment of its kind."""

    kind: TargetKind

    def describe(self, *, env: str, manifest: Manifest) -> ActualState:
        """Read what is actually serving (never changes anything)."""
        ...

    def deploy(self, *, request: DeployRequest, verify: Verifier) -> ActualState:
        """Converge to the request: bring the new version up, verify it, shift traffic.

        Raises ``TargetError`` or ``SmokeTestError`` on failure; the caller then calls
        :meth:`rollback` with the state read before.
        """
        ...

    def health(self, *, env: str, manifest: Manifest) -> bool:
        """Whether the environment's endpoint answers its health check."""
        ...

    def invoke(
        self, *, env: str, manifest: Manifest, instances: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Score rows through the environment's endpoint (what clients call)."""
        ...

    def rollback(self, *, env: str, manifest: Manifest, previous: ActualState) -> ActualState:
        """Return to a state read earlier with :meth:`describe` (after a failed deploy)."""
        ...

    def stop(self, *, env: str, manifest: Manifest) -> None:
        """Remove the environment's deployment (``model: null``)."""
        ...


def describe_strategy(manifest: Manifest) -> str:
    """One-line summary of a manifest's deployment strategy.

    Args:
        manifest: The manifest.

    Returns:
        ``all at once``, ``canary 20% / bake 2 min`` or ``linear 25% every 5 min``.
    """
    strategy = manifest.strategy
    if strategy.type == "canary":
        return f"canary {strategy.percent}% / bake {_minutes(strategy.bake_minutes)} min"
    if strategy.type == "linear":
        return f"linear {strategy.step_percent}% every {_minutes(strategy.interval_minutes)} min"
    return "all at once"


def _minutes(value: float) -> str:
    return f"{value:g}"
