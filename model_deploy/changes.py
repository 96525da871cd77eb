"""What kind of change a plan is, and which manifest fields it changes.

A plan compares the desired manifest with the one that produced what serves (from the deploy
history): every field that differs is listed with its old and new value. The change is a
**promotion** (another model version), a **config** change (same version, other settings, or a
teardown), a **rollback** (a version this environment served successfully before) or an
**emergency** (any of those, flagged with a recorded reason: it may pass a freeze window with
the owners' approval). Fields that carry policy (freeze windows, thresholds, regression limits,
bake checks, the promotion path) are read from the policy source when one is given; a change to
them is a policy change that needs the owners' approval.
"""

from __future__ import annotations

import json
from typing import Any

from model_deploy.errors import DeployError
from model_deploy.manifest.model import Manifest
from model_deploy.manifest.sources import ManifestSource
from model_deploy.plan import FieldChange, text_changes
from model_deploy.policies.result import ChangeKind, PolicyResult
from model_deploy.state import record_of
from model_deploy.store.records import DeployHistory, DeploymentRecord
from model_deploy.targets.protocol import ActualState

__all__ = [
    "POLICY_FIELDS",
    "ChangeKind",
    "classify",
    "field_changes",
    "flatten",
    "policy_view",
    "read_policy_source",
    "served_manifest_changes",
]

#: Top-level manifest fields that carry policy: read from the policy source (the base branch).
POLICY_FIELDS: tuple[str, ...] = ("freeze_windows", "policy", "promotion", "bake")


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Leaves of a JSON document by dotted path (``smoke_tests[0].expect.label``) as JSON text.

    Empty mappings and lists are leaves too (``[]``, ``{}``), so adding or removing a whole
    section shows.
    """
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key in value:
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: json.dumps(value, sort_keys=True, separators=(", ", ": "))}


def field_changes(
    old: dict[str, Any] | None, new: dict[str, Any] | None, *, fields: tuple[str, ...] | None = None
) -> list[tuple[str, str | None, str | None]]:
    """``(path, old text, new text)`` for every leaf that differs, in the new document's order.

    ``fields`` limits the comparison to those top-level fields; a missing document (None) or
    a missing leaf reads as absent (None).
    """

    def pick(doc: dict[str, Any] | None) -> dict[str, Any]:
        if doc is None:
            return {}
        return {k: v for k, v in doc.items() if fields is None or k in fields}

    before, after = flatten(pick(old)), flatten(pick(new))
    paths = list(after) + [path for path in before if path not in after]
    return [
        (path, before.get(path), after.get(path))
        for path in paths
        if before.get(path) != after.get(path)
    ]


def policy_view(manifest: Manifest, policy: Manifest | None) -> Manifest:
    """``manifest`` with its policy fields taken from ``policy`` (itself when None)."""
    if policy is None:
        return manifest
    return manifest.model_copy(update={name: getattr(policy, name) for name in POLICY_FIELDS})


def classify(
    *,
    action: str,
    desired_ref: str | None,
    serving_ref: str | None,
    history: list[DeploymentRecord],
    emergency: str | None,
) -> tuple[ChangeKind, ChangeKind]:
    """``(change kind, the kind it is underneath)``; they differ only for an emergency.

    A version this environment served successfully before is a rollback; any other version
    is a promotion; the same version (other settings, health, a teardown) is a config change.
    """
    if action == "noop":
        return "none", "none"
    if desired_ref is None or desired_ref == serving_ref:
        kind: ChangeKind = "config"
    elif any(
        r.outcome == "succeeded" and r.model_ref == desired_ref and r.action != "teardown"
        for r in history
    ):
        kind = "rollback"
    else:
        kind = "promotion"
    return ("emergency" if emergency else kind), kind


def read_policy_source(
    env: str, manifest: Manifest, policy: ManifestSource | None
) -> tuple[Manifest | None, list[FieldChange], PolicyResult | None]:
    """Where policies read their fields, and what the desired manifest changes of them.

    ``env`` is the deployment key (``<env>/<name>``). Returns the base manifest (None: the
    desired one), the policy fields ``manifest`` changes against it (every one, for a
    deployment the source does not have), and a failed result when the source cannot be read.
    """
    if policy is None:
        return None, [], None
    desired = manifest.model_dump(mode="json")
    if env not in policy.names():
        return None, text_changes(field_changes(None, desired, fields=POLICY_FIELDS)), None
    try:
        base = policy.load(env).manifest
    except DeployError as exc:
        failed = PolicyResult("policy-source", "fail", f"Cannot read the policy source: {exc}.")
        return None, [], failed
    changed = field_changes(base.model_dump(mode="json"), desired, fields=POLICY_FIELDS)
    return base, text_changes(changed), None


def served_manifest_changes(
    manifest: Manifest,
    *,
    actual: ActualState,
    history: DeployHistory,
    action: str,
    warnings: list[str],
) -> list[FieldChange]:
    """Every field of ``manifest`` that differs from the serving deployment's manifest.

    The serving deployment's manifest is the history's record of what serves; an in-place
    update whose serving deployment is not in the history adds a warning instead.
    """
    if action != "update":
        return []
    record = record_of(
        history.records, model_ref=actual.model_ref, manifest_hash=actual.manifest_hash
    )
    if record is None:
        wanted = manifest.model.ref if manifest.model else None
        if actual.model_ref is not None and actual.model_ref == wanted:
            warnings.append(
                f"the deploy history has no record of the serving deployment of "
                f"{actual.model_ref}: the manifest fields it changes cannot be listed"
            )
        return []
    try:
        served = Manifest.model_validate(record.manifest).model_dump(mode="json")
    except ValueError:
        served = record.manifest
    return text_changes(field_changes(served, manifest.model_dump(mode="json")))
