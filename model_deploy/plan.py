"""The plan: desired state (manifest) against actual state (target), with evidence and policies.

:func:`build_plan` is pure: the deployer gathers the manifest, the target's actual state, the
registry records and the policy results, and this module decides what would change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

from model_build.registry.protocol import ModelVersion
from model_deploy.evidence import Evidence, MetricRow, metric_rows
from model_deploy.manifest.loader import LoadedManifest
from model_deploy.manifest.model import Manifest
from model_deploy.policies.result import ChangeKind, PolicyResult
from model_deploy.targets.protocol import ActualState, describe_strategy

Action = Literal["create", "update", "destroy", "noop"]

__all__ = [
    "Action",
    "Evidence",
    "FieldChange",
    "MetricRow",
    "Plan",
    "actual_settings",
    "build_plan",
    "compute_changes",
    "desired_settings",
    "metric_rows",
    "plan_action",
    "text_changes",
]


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


class Plan(BaseModel):
    """What applying one deployment's manifest would do.

    Attributes:
        env: The deployment key ``<env>/<name>`` (one model in one environment).
        environment: Its environment.
        model: Its name in the environment (the manifest's file name: by convention the
            model's name).
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
        change_kind: ``promotion`` (another version), ``config`` (same version, other
            settings, or a teardown), ``rollback`` (a version that served here before),
            ``emergency`` (flagged with a reason) or ``none`` (nothing to do).
        emergency: The recorded reason of an emergency change.
        manifest_changes: Every manifest field that differs from the manifest of the serving
            deployment (from the deploy history), ``key`` being its dotted path.
        policy_source: ``manifest`` (policy fields read from the desired manifest) or
            ``separate`` (from another source: the base branch).
        policy_changes: Policy fields (freeze windows, thresholds, regression limits, bake
            checks, promotion path) the desired manifest changes against the policy source.
        needs_owner_approval: Why this change needs the owners' approval (a policy change, an
            emergency); empty when it does not.
    """

    model_config = ConfigDict(frozen=True)

    env: str
    target: str
    action: Action
    environment: str = ""
    model: str = ""
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
    change_kind: ChangeKind = "none"
    emergency: str | None = None
    manifest_changes: list[FieldChange] = []
    policy_source: Literal["manifest", "separate"] = "manifest"
    policy_changes: list[FieldChange] = []
    needs_owner_approval: list[str] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def policy_change(self) -> bool:
        """Whether the desired manifest changes policy fields (it needs the owners' approval)."""
        return bool(self.policy_changes)

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


def plan_action(manifest: Manifest, actual: ActualState, changes: list[FieldChange]) -> Action:
    """``create``, ``update``, ``destroy`` or ``noop``, given :func:`compute_changes`'s result."""
    if manifest.model is None:
        return "destroy" if actual.deployed else "noop"
    if not actual.deployed:
        return "create"
    return "update" if changes else "noop"


def build_plan(
    *,
    loaded: LoadedManifest,
    key: str | None = None,
    actual: ActualState,
    candidate: ModelVersion | None,
    serving: ModelVersion | None,
    policies: list[PolicyResult],
    now: datetime,
    warnings: list[str] | None = None,
    change_kind: ChangeKind | None = None,
    emergency: str | None = None,
    manifest_changes: list[FieldChange] | None = None,
    policy_changes: list[FieldChange] | None = None,
    policy_source: Literal["manifest", "separate"] = "manifest",
) -> Plan:
    """Decide what applying the manifest would do.

    ``candidate`` is the registry record of the desired version (None if absent or ``model:
    null``), ``serving`` the one of the serving version if known; ``warnings`` say what could
    not be checked. ``change_kind`` is the deployer's classification (default: ``none`` for
    a no-op, else ``promotion`` when the version changes and ``config`` when it does not);
    ``manifest_changes`` and ``policy_changes`` the manifest fields that differ. ``key`` is the
    deployment (default: the loaded manifest's key, else its environment).
    """
    manifest = loaded.manifest
    key = key or loaded.key or manifest.environment
    environment, _, name = key.partition("/")
    changes = compute_changes(loaded, actual)
    action = plan_action(manifest, actual, changes)
    blocked = any(result.failed for result in policies) and action != "noop"
    desired_ref = manifest.model.ref if manifest.model else None
    if action == "noop":
        kind: ChangeKind = "none"
    elif change_kind is not None:
        kind = change_kind
    else:
        kind = "config" if desired_ref in (None, actual.model_ref) else "promotion"
    fields = list(manifest_changes or [])
    approvals = []
    if policy_changes:
        names = ", ".join(dict.fromkeys(c.key.split("[", 1)[0] for c in policy_changes))
        approvals.append(f"policy change ({names}): the owners must approve it")
    if emergency and action != "noop":
        approvals.append(f"emergency change ({emergency}): the owners must approve it")
    summary = _summary(key, action, desired_ref, actual, changes, blocked, fields=fields)
    return Plan(
        env=key,
        environment=environment,
        model=name,
        target=manifest.target.kind,
        action=action,
        summary=summary,
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
        change_kind=kind,
        emergency=emergency if action != "noop" else None,
        manifest_changes=fields,
        policy_source=policy_source,
        policy_changes=list(policy_changes or []),
        needs_owner_approval=approvals,
    )


def text_changes(changes: list[tuple[str, str | None, str | None]]) -> list[FieldChange]:
    """``(path, old, new)`` triples as field changes (the path is the key and the label)."""
    return [
        FieldChange(key=path, setting=path, serving=old, desired=new) for path, old, new in changes
    ]


def _summary(
    env: str,
    action: Action,
    desired: str | None,
    actual: ActualState,
    changes: list[FieldChange],
    blocked: bool,
    *,
    fields: list[FieldChange],
) -> str:
    serving = actual.model_ref or "nothing"
    if action == "noop":
        return f"{env} is in sync: serving {serving}; nothing to do."
    if action == "create":
        text = f"{env}: deploy {desired} (nothing serves yet)"
    elif action == "destroy":
        text = f"{env}: tear down {serving} (the manifest says model: null)"
    elif desired == actual.model_ref:
        labels = [c.setting.lower() for c in changes if not (fields and c.key == "manifest_hash")]
        labels += [_top(c.key) for c in fields]
        text = f"{env}: update {serving} in place ({', '.join(dict.fromkeys(labels))})"
    else:
        text = f"{env}: {serving} -> {desired}, {len(changes)} setting(s) change"
    return text + (" - BLOCKED by policy." if blocked else ".")


def _top(path: str) -> str:
    """The top-level field of a dotted path (``smoke_tests[0].expect`` -> ``smoke_tests``)."""
    return path.split(".", 1)[0].split("[", 1)[0]


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]
