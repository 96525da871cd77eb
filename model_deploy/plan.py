"""The plan: desired state (manifest) against actual state (target), with evidence and policies.

:func:`build_plan` is pure: the deployer gathers the manifest, the target's actual state, the
registry records and the policy results, and this module decides what would change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

from model_build.registry.compare import compare_metrics
from model_build.registry.protocol import ModelVersion
from model_deploy.manifest.loader import LoadedManifest
from model_deploy.manifest.model import Manifest
from model_deploy.policies.result import PolicyResult
from model_deploy.targets.protocol import ActualState, describe_strategy

Action = Literal["create", "update", "destroy", "noop"]


class FieldChange(BaseModel):
    """One setting that differs between what serves and what the manifest wants.

    Attributes:
        key: Machine name (``model_version``, ``instance_count``...).
        setting: Human label.
        serving: Current value (text), or None when absent.
        desired: Desired value (text), or None when absent.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    setting: str
    serving: str | None
    desired: str | None


class MetricRow(BaseModel):
    """One registry metric, serving version against candidate.

    Attributes:
        name: Metric name.
        serving: Serving version's value.
        candidate: Candidate version's value.
        delta: ``candidate - serving`` when both exist.
        lower_is_better: Whether smaller is better.
        verdict: ``better``, ``worse``, ``same``, ``only in A`` (serving) or ``only in B``.
        minimum: The manifest's lower bound, if any.
        maximum: The manifest's upper bound, if any.
        meets_threshold: Whether the candidate meets the bounds (None without bounds).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    serving: float | None
    candidate: float | None
    delta: float | None
    lower_is_better: bool
    verdict: str
    minimum: float | None = None
    maximum: float | None = None
    meets_threshold: bool | None = None


class Evidence(BaseModel):
    """What a version is, from the registry: what the reviewer approves.

    Attributes:
        ref: ``<model>:<version>``.
        status: Registry approval status.
        artifact_digest: Bundle digest.
        artifact_uri: Where the bundle lives.
        git_sha: Commit the model was built from.
        data_hash: Hash of the training data snapshot.
        feature_service: Feature service it reads.
        arn: Registry-native identifier, if any.
        created_at: Registration time.
    """

    model_config = ConfigDict(frozen=True)

    ref: str
    status: str
    artifact_digest: str
    artifact_uri: str
    git_sha: str
    data_hash: str
    feature_service: str
    arn: str | None
    created_at: datetime

    @classmethod
    def of(cls, version: ModelVersion) -> Evidence:
        """Evidence of a registry record."""
        return cls(
            ref=version.ref,
            status=str(version.status),
            artifact_digest=version.artifact_digest,
            artifact_uri=version.artifact_uri,
            git_sha=version.git_sha,
            data_hash=version.data_hash,
            feature_service=version.feature_service,
            arn=version.arn,
            created_at=version.created_at,
        )


class Plan(BaseModel):
    """What applying an environment's manifest would do.

    Attributes:
        env: Environment.
        target: Target kind.
        action: ``create``, ``update``, ``destroy`` or ``noop``.
        summary: One line for humans.
        blocked: Whether a policy refuses the change (apply would stop).
        manifest_path: Manifest file.
        manifest_hash: Its content hash.
        desired_ref: Desired ``<model>:<version>`` (None for ``model: null``).
        serving_ref: What serves now, if anything.
        changes: Settings that differ.
        metrics: Serving-vs-candidate metrics.
        policies: Policy results.
        candidate: Evidence of the desired version.
        serving: Evidence of the serving version.
        actual: The target's actual state.
        generated_at: When the plan was made.
        warnings: What could not be checked while planning (an unreachable registry...): the
            plan may be incomplete, and every rendering shows them.
    """

    model_config = ConfigDict(frozen=True)

    env: str
    target: str
    action: Action
    summary: str
    blocked: bool
    manifest_path: str
    manifest_hash: str
    desired_ref: str | None
    serving_ref: str | None
    changes: list[FieldChange]
    metrics: list[MetricRow]
    policies: list[PolicyResult]
    candidate: Evidence | None
    serving: Evidence | None
    actual: ActualState
    generated_at: datetime
    warnings: list[str] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def in_sync(self) -> bool:
        """Whether applying would change nothing."""
        return self.action == "noop"

    def to_text(self) -> str:
        """The plan for a terminal."""
        from model_deploy.render.text import plan_text

        return plan_text(self)

    def to_markdown(self) -> str:
        """The plan as a pull request comment."""
        from model_deploy.render.markdown import plan_markdown

        return plan_markdown(self)


def desired_settings(manifest: Manifest, *, manifest_hash: str) -> dict[str, tuple[str, str]]:
    """The manifest's observable settings in display order: key to (label, text value).

    The target's own settings come from its spec (``settings()``); empty values are ``-``.
    """
    model = manifest.model
    target = manifest.target
    return {
        "model_version": ("Model version", model.ref if model else "-"),
        "endpoint": ("Endpoint", target.endpoint),
        **target.settings(),
        "data_capture": ("Data capture", f"{manifest.data_capture.sampling_percentage}%"),
        "strategy": ("Strategy", describe_strategy(manifest)),
        "manifest_hash": ("Manifest hash", _short(manifest_hash)),
    }


def actual_settings(actual: ActualState) -> dict[str, str]:
    """The keys of :func:`desired_settings` read from the actual state (``-`` when unknown).

    Empty when nothing is deployed; the target's own settings are its ``settings`` mapping.
    """
    if not actual.deployed:
        return {}
    capture = actual.data_capture_percentage
    return {
        "model_version": actual.model_ref or "unknown",
        "endpoint": actual.endpoint or "-",
        **actual.settings,
        "data_capture": "-" if capture is None else f"{capture}%",
        "strategy": actual.strategy or "-",
        "manifest_hash": _short(actual.manifest_hash) if actual.manifest_hash else "-",
    }


def compute_changes(loaded: LoadedManifest, actual: ActualState) -> list[FieldChange]:
    """Settings that differ between the manifest and the actual state (empty when in sync).

    An unhealthy deployment lists health first; a setting the target did not report reads
    as absent, so it shows as a change.
    """
    manifest = loaded.manifest
    if manifest.model is None:
        if not actual.deployed:
            return []
        return [FieldChange(key="model_version", setting="Model version",
                            serving=actual.model_ref or "unknown", desired=None)]  # fmt: skip
    desired = desired_settings(manifest, manifest_hash=loaded.content_hash)
    current = actual_settings(actual)
    changes = []
    if actual.deployed and not actual.healthy:
        changes.append(
            FieldChange(key="health", setting="Health", serving="unhealthy", desired="healthy")
        )
    for key, (label, value) in desired.items():
        now = current.get(key, "-") if current else None
        if now != value:
            changes.append(FieldChange(key=key, setting=label, serving=now, desired=value))
    return changes


def build_plan(
    *,
    loaded: LoadedManifest,
    actual: ActualState,
    candidate: ModelVersion | None,
    serving: ModelVersion | None,
    policies: list[PolicyResult],
    now: datetime,
    warnings: list[str] | None = None,
) -> Plan:
    """Decide what applying the manifest would do.

    ``candidate`` is the registry record of the desired version (None if absent or ``model:
    null``), ``serving`` the one of the serving version if known; ``warnings`` say what could
    not be checked.
    """
    manifest = loaded.manifest
    changes = compute_changes(loaded, actual)
    if manifest.model is None:
        action: Action = "destroy" if actual.deployed else "noop"
    elif not actual.deployed:
        action = "create"
    else:
        action = "update" if changes else "noop"
    blocked = any(result.failed for result in policies) and action != "noop"
    desired_ref = manifest.model.ref if manifest.model else None
    return Plan(
        env=manifest.environment,
        target=manifest.target.kind,
        action=action,
        summary=_summary(manifest.environment, action, desired_ref, actual, changes, blocked),
        blocked=blocked,
        manifest_path=str(loaded.path),
        manifest_hash=loaded.content_hash,
        desired_ref=desired_ref,
        serving_ref=actual.model_ref,
        changes=changes,
        metrics=metric_rows(manifest, candidate=candidate, serving=serving),
        policies=policies,
        candidate=Evidence.of(candidate) if candidate else None,
        serving=Evidence.of(serving) if serving else None,
        actual=actual,
        generated_at=now,
        warnings=list(warnings or []),
    )


def metric_rows(
    manifest: Manifest, *, candidate: ModelVersion | None, serving: ModelVersion | None
) -> list[MetricRow]:
    """Serving-vs-candidate metrics with the manifest's thresholds, one row per metric."""
    if candidate is None:
        return []
    baseline = serving.metrics if serving and serving.ref != candidate.ref else {}
    rows = []
    for delta in compare_metrics(baseline, candidate.metrics):
        bound = manifest.policy.thresholds.get(delta.name)
        meets = None
        if bound is not None and delta.b is not None:
            meets = (bound.min is None or delta.b >= bound.min) and (
                bound.max is None or delta.b <= bound.max
            )
        rows.append(
            MetricRow(
                name=delta.name,
                serving=delta.a,
                candidate=delta.b,
                delta=delta.delta,
                lower_is_better=delta.lower_is_better,
                verdict=delta.verdict,
                minimum=bound.min if bound else None,
                maximum=bound.max if bound else None,
                meets_threshold=meets,
            )
        )
    return rows


def _summary(
    env: str,
    action: Action,
    desired: str | None,
    actual: ActualState,
    changes: list[FieldChange],
    blocked: bool,
) -> str:
    serving = actual.model_ref or "nothing"
    if action == "noop":
        return f"{env} is in sync: serving {serving}; nothing to do."
    if action == "create":
        text = f"{env}: deploy {desired} (nothing serves yet)"
    elif action == "destroy":
        text = f"{env}: tear down {serving} (the manifest says model: null)"
    elif desired == actual.model_ref:
        labels = ", ".join(change.setting.lower() for change in changes)
        text = f"{env}: update {serving} in place ({labels})"
    else:
        text = f"{env}: {serving} -> {desired}, {len(changes)} setting(s) change"
    return text + (" - BLOCKED by policy." if blocked else ".")


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]
