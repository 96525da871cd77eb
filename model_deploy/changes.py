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
from typing import Any, Literal

from model_deploy.manifest.model import Manifest
from model_deploy.store.records import DeploymentRecord

ChangeKind = Literal["promotion", "config", "rollback", "emergency", "none"]

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
    if old is None:
        before = {}
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
