"""Diff the repo's definitions against the Feast registry (plan) and converge them (apply)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from feature_store.errors import FeastOperationError

if TYPE_CHECKING:
    from feature_store.repo import FeatureRepo

_ACTIONS = {1: "create", 2: "delete", 3: "update", 4: "unchanged"}


@dataclass(frozen=True)
class ObjectChange:
    """One registry object that the apply would create, update or delete.

    Attributes:
        action: ``create``, ``update``, ``delete`` or ``unchanged``.
        kind: Feast object type, e.g. ``Feature View``.
        name: Object name.
        properties: For updates, ``(property, current, declared)`` triples.
    """

    action: str
    kind: str
    name: str
    properties: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class PlanResult:
    """The registry diff between the repo and the registry, and the infra it implies.

    Attributes:
        changes: Objects to create, update or delete (unchanged ones are left out).
        unchanged: Names of objects already in sync.
        infra: Infra changes (online tables) as ``(action, name)`` pairs.
        seconds: Wall time of the operation.
        applied: Whether the changes were applied.
    """

    changes: list[ObjectChange]
    unchanged: list[str]
    infra: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    applied: bool = False

    @property
    def in_sync(self) -> bool:
        """True when the registry already matches the repo."""
        return not self.changes and not self.infra

    def to_text(self) -> str:
        """Render the plan as plain text, one change per line (like ``feast plan``)."""
        if self.in_sync:
            return f"No changes: {len(self.unchanged)} objects already match the registry."
        lines = []
        for change in self.changes:
            lines.append(f"{change.action.capitalize():9} {change.kind} {change.name}")
            lines.extend(f"          {p}: {old} -> {new}" for p, old, new in change.properties)
        lines.extend(f"{action.capitalize():9} infra {name}" for action, name in self.infra)
        return "\n".join(lines)


def plan(*, repo: FeatureRepo) -> PlanResult:
    """Compute what ``apply`` would change, without changing anything.

    Returns:
        The registry and infra diff.

    Raises:
        RepoConfigError: The store configuration is invalid.
        FeastOperationError: Definitions fail to load or Feast cannot compute the diff.
    """
    started = time.perf_counter()
    store = repo.open_store()
    contents = repo.parse()
    registry_diff, infra_diff, _ = _feast_plan(store, contents, repo)
    return _summarise(
        registry_diff, _tracked(store, infra_diff), time.perf_counter() - started, applied=False
    )


def apply(*, repo: FeatureRepo) -> PlanResult:
    """Converge the registry and online tables to the repo's definitions (idempotent).

    Returns:
        What was changed; ``in_sync`` is True when nothing needed to change.

    Raises:
        RepoConfigError: The store configuration is invalid.
        FeastOperationError: Definitions fail to load or Feast refuses the apply.
    """
    from feast.repo_operations import extract_objects_for_apply_delete

    started = time.perf_counter()
    repo.data_dir.mkdir(parents=True, exist_ok=True)
    store = repo.open_store()
    contents = repo.parse()
    registry_diff, infra_diff, new_infra = _feast_plan(store, contents, repo)
    tracked = _tracked(store, infra_diff)
    if _summarise(registry_diff, tracked, 0.0, applied=False).in_sync:
        return _summarise(registry_diff, tracked, time.perf_counter() - started, applied=False)
    try:
        if store._should_use_plan():
            # Feast's own `feast apply` path: online tables first, then registry and infra record.
            store._apply_diffs(registry_diff, infra_diff, new_infra)
        else:
            to_apply, to_delete, _, _ = extract_objects_for_apply_delete(
                store.project, store.registry, contents
            )
            store.apply(to_apply, objects_to_delete=to_delete, partial=False)
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        raise FeastOperationError(f"{repo.path}: feast apply failed: {exc}") from exc
    return _summarise(registry_diff, tracked, time.perf_counter() - started, applied=True)


def _tracked(store: Any, infra_diff: Any) -> Any:
    """Feast records infra (online tables) only on its plan-based path (local + SQLite)."""
    if store._should_use_plan():
        return infra_diff
    from feast.diff.infra_diff import InfraDiff

    return InfraDiff()


def _feast_plan(store: Any, contents: Any, repo: FeatureRepo) -> tuple[Any, Any, Any]:
    try:
        return store.plan(contents)  # type: ignore[no-any-return]
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        raise FeastOperationError(f"{repo.path}: cannot plan feature definitions: {exc}") from exc


def _summarise(registry_diff: Any, infra_diff: Any, seconds: float, *, applied: bool) -> PlanResult:
    changes: list[ObjectChange] = []
    unchanged: list[str] = []
    for diff in registry_diff.feast_object_diffs:
        if diff.name == "__dummy":
            continue
        action = _ACTIONS.get(diff.transition_type.value, "unknown")
        kind = diff.feast_object_type.value
        if action == "unchanged":
            unchanged.append(diff.name)
            continue
        real = [
            p
            for p in getattr(diff, "feast_object_property_diffs", [])
            if _without_meta(p.val_existing) != _without_meta(p.val_declared)
        ]
        if action == "update" and not real:
            # Feast reports a data source as updated when only its bookkeeping timestamps
            # differ; that is not a change anyone needs to review or apply.
            unchanged.append(diff.name)
            continue
        props = tuple(
            (p.property_name, _short(p.val_existing), _short(p.val_declared)) for p in real
        )
        changes.append(ObjectChange(action=action, kind=kind, name=diff.name, properties=props))
    infra = [
        (_ACTIONS.get(d.transition_type.value, "unknown"), d.name)
        for d in infra_diff.infra_object_diffs
        if _ACTIONS.get(d.transition_type.value) != "unchanged"
    ]
    changes.sort(key=lambda c: (c.kind, c.name))
    return PlanResult(
        changes=changes, unchanged=sorted(unchanged), infra=infra, seconds=seconds, applied=applied
    )


def _without_meta(value: Any) -> Any:
    """A protobuf copy with ``meta`` (created/updated timestamps) cleared at every level."""
    if not hasattr(value, "ListFields") or not hasattr(value, "CopyFrom"):
        return value
    copy = type(value)()
    copy.CopyFrom(value)
    _clear_meta(copy)
    return copy


def _clear_meta(message: Any) -> None:
    for descriptor, field_value in message.ListFields():
        if descriptor.name == "meta":
            message.ClearField("meta")
        elif descriptor.message_type is not None and hasattr(field_value, "ListFields"):
            _clear_meta(field_value)


def _short(value: Any, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
