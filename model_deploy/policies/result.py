"""What a policy sees (the context) and what it says (one result with one sentence)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from model_build.registry.protocol import ModelVersion
from model_deploy.manifest.environments import EnvironmentRules
from model_deploy.manifest.model import Manifest

Outcome = Literal["pass", "fail", "skip", "waived"]
ChangeKind = Literal["promotion", "config", "rollback", "emergency", "none"]
"""What a plan changes (see :mod:`model_deploy.changes`)."""


@dataclass(frozen=True)
class PolicyResult:
    """The verdict of one policy.

    Attributes:
        policy: Policy name (``approval``, ``promotion-order``...).
        outcome: ``pass``, ``fail``, ``skip`` (does not apply here) or ``waived`` (it would
            fail, but an emergency change may pass it with the owners' approval).
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
    """What the upstream environment (staging, for prod) serves of the same model.

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
class PromotionEvidence:
    """What the environment a version must come from (``promotion.from``) recorded about it.

    Attributes:
        env: That environment.
        deployed_at: When its history last shows a healthy deploy of the candidate, if ever.
        error: Why its history could not be read, if it could not.
    """

    env: str
    deployed_at: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class PolicyContext:
    """Everything the policies may look at; they never do I/O themselves.

    ``manifest`` holds the desired state with its policy fields (freeze windows, thresholds,
    regression limits, promotion path) from the policy source: the base branch when the
    promotion tooling plans a pull request.

    Attributes:
        env: Environment being changed.
        manifest: Its desired state (policy fields from the policy source).
        candidate: Registry record of the desired version (None when ``model: null``).
        upstream: State of the upstream environment, when the environment has one.
        now: Current time (time-zone aware).
        kind: The change kind underneath (``promotion``, ``config``, ``rollback``): promotion
            rules only apply to promotions.
        serving: Registry record of the version serving now, if known.
        serving_ref: What serves now (``<model>:<version>``), if anything.
        serving_error: Why the serving version's record is unknown, if it is.
        promotion: What ``promotion.from``'s history says about the candidate.
        emergency: The reason of an emergency change (it may pass a freeze window).
        rules: The environment's rules (``environments.yaml``, from the policy source):
            approval, clean builds, upstream.
        deployment: The deployment key ``<env>/<name>``.
    """

    env: str
    manifest: Manifest
    candidate: ModelVersion | None
    upstream: UpstreamState | None
    now: datetime
    kind: ChangeKind = "promotion"
    serving: ModelVersion | None = None
    serving_ref: str | None = None
    serving_error: str | None = None
    promotion: PromotionEvidence | None = None
    emergency: str | None = None
    rules: EnvironmentRules = field(default_factory=EnvironmentRules)
    deployment: str = ""


def not_a_promotion(ctx: PolicyContext, name: str) -> PolicyResult | None:
    """A skip result for promotion rules when the change is not a promotion, else None."""
    if ctx.kind in ("promotion", "emergency", "none"):
        return None
    serving = ctx.serving_ref or "nothing"
    if ctx.kind == "rollback":
        why = "a rollback to a version that served here before"
    else:
        why = f"a config change ({serving} keeps serving)"
    return PolicyResult(name, "skip", f"This is {why}: promotion rules do not apply.")
