"""Deploy history helpers, and the local-file functions older callers use.

The records live in :mod:`model_deploy.store.records` and the stores in
:mod:`model_deploy.store`; this module walks a history (what served when, what a rollback goes
back to) and keeps the file-based entry points (``read_history(state_dir=...)``, ``env_lock``)
as thin wrappers over :class:`~model_deploy.store.local.LocalStateStore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from model_deploy.errors import DeployError
from model_deploy.store.local import HISTORY_FILE, LOCK_FILE, LocalStateStore
from model_deploy.store.protocol import holding_lock
from model_deploy.store.records import Action, DeployHistory, DeploymentRecord, Outcome

__all__ = [
    "HISTORY_FILE",
    "LOCK_FILE",
    "Action",
    "DeployHistory",
    "DeploymentRecord",
    "Outcome",
    "append_history",
    "deployment_stack",
    "env_dir",
    "env_lock",
    "previous_deployment",
    "read_history",
    "record_of",
    "rollback_target",
]


def env_dir(*, state_dir: Path, env: str) -> Path:
    """``<state_dir>/<env>``, created if needed.

    Raises:
        DeployError: The folder cannot be created.
    """
    path = state_dir / env
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeployError(f"cannot create the deploy state folder {path}: {exc.strerror}") from exc
    return path


def read_history(*, state_dir: Path, env: str) -> DeployHistory:
    """``env``'s history in the local store under ``state_dir``.

    Raises:
        DeployError: The history file exists but cannot be read at all.
    """
    return LocalStateStore(state_dir).read_history(env)


def append_history(*, state_dir: Path, env: str, record: DeploymentRecord) -> None:
    """Append one record to the local store under ``state_dir``."""
    LocalStateStore(state_dir).append_history(env, record)


@contextmanager
def env_lock(*, state_dir: Path, env: str, operation: str, ttl: float = 3600.0) -> Iterator[None]:
    """Hold ``env``'s lock in the local store under ``state_dir`` for the block.

    Raises:
        LockedError: Another live process (or thread) holds it; the message names it.
    """
    with holding_lock(LocalStateStore(state_dir), env, operation=operation, ttl=ttl):
        yield


def previous_deployment(
    records: list[DeploymentRecord], *, current_hash: str | None, current_version: int | None
) -> DeploymentRecord | None:
    """The newest successful deployment that differs from what is serving now, if any.

    ``current_hash`` and ``current_version`` describe what serves (None when nothing does).
    """
    for record in reversed(records):
        if record.outcome != "succeeded" or record.model_ref is None:
            continue
        if record.manifest_hash == current_hash and record.version == current_version:
            continue
        return record
    return None


def deployment_stack(records: list[DeploymentRecord]) -> list[DeploymentRecord]:
    """The deployments that led to what serves now, oldest first (the top is what serves).

    A successful apply is pushed; a successful rollback pops back to the deployment it
    returned to (or is pushed when that one is not on the stack); a teardown empties it.
    Failed and rolled-back runs change nothing.
    """
    stack: list[DeploymentRecord] = []
    for record in records:
        if record.outcome != "succeeded":
            continue
        if record.action == "teardown" or record.model_ref is None:
            stack.clear()
            continue
        if record.action == "rollback":
            for index in range(len(stack) - 1, -1, -1):
                if _same(stack[index], record):
                    del stack[index + 1 :]
                    break
            else:
                stack.append(record)
            continue
        if stack and _same(stack[-1], record):
            stack[-1] = record
        else:
            stack.append(record)
    return stack


def rollback_target(
    records: list[DeploymentRecord],
    *,
    current_hash: str | None,
    current_version: int | None,
    to_version: int | None = None,
) -> DeploymentRecord | None:
    """What a rollback goes back to: the deployment before the serving one, walking history.

    With ``to_version``, the newest successful deployment of that version instead. Repeated
    rollbacks walk further back (v3 -> v2 -> v1), never flip between the last two.
    """
    if to_version is not None:
        for record in reversed(records):
            if record.outcome == "succeeded" and record.version == to_version and record.model_ref:
                return record
        return None
    stack = deployment_stack(records)
    while (
        stack and stack[-1].manifest_hash == current_hash and (stack[-1].version == current_version)
    ):
        stack.pop()
    return stack[-1] if stack else None


def record_of(
    records: list[DeploymentRecord], *, model_ref: str | None, manifest_hash: str | None
) -> DeploymentRecord | None:
    """The newest successful record that deployed ``model_ref`` with ``manifest_hash``."""
    if model_ref is None:
        return None
    for record in reversed(records):
        if (
            record.outcome == "succeeded"
            and record.model_ref == model_ref
            and (manifest_hash is None or record.manifest_hash == manifest_hash)
        ):
            return record
    return None


def _same(a: DeploymentRecord, b: DeploymentRecord) -> bool:
    return a.model_ref == b.model_ref and a.manifest_hash == b.manifest_hash
