"""What a policy sees (the context) and what it says (one result with one sentence)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from model_build.registry.protocol import ModelVersion
from model_deploy.manifest.model import Manifest

Outcome = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class PolicyResult:
    """The verdict of one policy.

    Attributes:
        policy: Policy name (``approval``, ``promotion-order``...).
        outcome: ``pass``, ``fail`` or ``skip`` (does not apply here).
        message: One sentence a reviewer can act on.
    """

    policy: str
    outcome: Outcome
    message: str

    @property
    def failed(self) -> bool:
        """Whether the policy refused the change."""
        return self.outcome == "fail"


@dataclass(frozen=True)
class UpstreamState:
    """What the upstream environment (staging, for prod) is serving.

    Attributes:
        env: Upstream environment name.
        model_ref: ``<model>:<version>`` it serves, or None.
        healthy: Whether it answers its health check.
        error: Why it could not be read, if it could not.
    """

    env: str
    model_ref: str | None
    healthy: bool
    error: str | None = None


@dataclass(frozen=True)
class PolicyContext:
    """Everything the policies may look at; they never do I/O themselves.

    Attributes:
        env: Environment being changed.
        manifest: Its desired state.
        candidate: Registry record of the desired version (None when ``model: null``).
        upstream: State of the upstream environment, when the environment has one.
        now: Current time (time-zone aware).
    """

    env: str
    manifest: Manifest
    candidate: ModelVersion | None
    upstream: UpstreamState | None
    now: datetime
