"""Per-environment deploy state on disk: the apply lock and the deployment history.

Layout under the state folder (default ``.slipway/deploy``)::

    <env>/apply.lock      fcntl lock held by the one apply or rollback running for <env>
    <env>/history.jsonl   one DeploymentRecord per line, oldest first (append-only)
    <env>/...             target-owned files (the local target's state, logs and bundles)
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from model_deploy.errors import DeployError, LockedError

HISTORY_FILE = "history.jsonl"
LOCK_FILE = "apply.lock"

Action = Literal["apply", "rollback", "teardown"]
Outcome = Literal["succeeded", "rolled_back", "failed"]


class DeploymentRecord(BaseModel):
    """One apply or rollback of an environment.

    Attributes:
        at: When it finished (UTC).
        action: ``apply``, ``rollback`` or ``teardown``.
        outcome: ``succeeded``, ``rolled_back`` (failed, previous state restored) or ``failed``.
        model_ref: ``<model>:<version>`` deployed, or None for a teardown.
        version: The version number, or None.
        artifact_digest: Digest of the deployed bundle, or None.
        manifest_hash: Hash of the manifest applied.
        manifest: The manifest content applied (what a rollback re-applies).
        git_sha: Commit of the manifest repo at apply time.
        message: What happened, one line.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    action: Action
    outcome: Outcome
    model_ref: str | None
    version: int | None
    artifact_digest: str | None = None
    manifest_hash: str
    manifest: dict[str, Any]
    git_sha: str = "unknown"
    message: str = ""


@dataclass(frozen=True)
class DeployHistory:
    """An environment's deployment history as read from disk.

    Attributes:
        records: Every readable record, oldest first.
        warnings: One sentence per line that could not be read (it was skipped: a rollback may
            then not see every deployment), shown by status and rollback.
    """

    records: list[DeploymentRecord]
    warnings: list[str]

    @property
    def last(self) -> DeploymentRecord | None:
        """The newest record, if any."""
        return self.records[-1] if self.records else None


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
    """Every recorded deployment of ``env``, oldest first, and a warning per unreadable line.

    Raises:
        DeployError: The history file exists but cannot be read at all (the message says why).
    """
    path = state_dir / env / HISTORY_FILE
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return DeployHistory([], [])
    except OSError as exc:
        raise DeployError(f"cannot read the deploy history {path}: {exc.strerror}") from exc
    records: list[DeploymentRecord] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(DeploymentRecord.model_validate_json(line))
        except ValidationError:
            bad.append(number)
    warnings = []
    if bad:
        lines = ", ".join(str(number) for number in bad[:5]) + (", ..." if len(bad) > 5 else "")
        warnings.append(
            f"{path}: skipped {len(bad)} unreadable line(s) ({lines}); the history may be "
            "incomplete"
        )
    return DeployHistory(records, warnings)


def append_history(*, state_dir: Path, env: str, record: DeploymentRecord) -> None:
    """Append one record (a single ``write`` of one line, fsynced)."""
    path = env_dir(state_dir=state_dir, env=env) / HISTORY_FILE
    line = record.model_dump_json() + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


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


@contextmanager
def env_lock(*, state_dir: Path, env: str, operation: str) -> Iterator[None]:
    """Hold the environment's apply lock (non-blocking: fails at once if it is taken).

    ``operation`` (``apply``, ``rollback``) is written into the lock file with the pid, so a
    refused run can name what holds it.

    Raises:
        LockedError: Another process (or thread) holds the lock; the message names it.
    """
    path = env_dir(state_dir=state_dir, env=env) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise LockedError(
                f"{env}: another {holder} is running; wait for it to finish (lock: {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        note = {"pid": os.getpid(), "operation": operation, "since": datetime.now(UTC).isoformat()}
        os.write(fd, json.dumps(note).encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        note = json.loads(os.read(fd, 4096) or b"{}")
        return f"{note['operation']} (pid {note['pid']}, since {note['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "apply or rollback"
