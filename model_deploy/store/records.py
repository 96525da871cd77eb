"""What the deploy state holds: deployment records, the history, the in-flight intent, locks.

The records are the same whatever the store (local files, S3): a :class:`DeploymentRecord` per
finished apply or rollback, a :class:`DeployIntent` while one runs (written ahead of every
traffic step, so a crashed run can be finished or undone), and the lock note naming its owner.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from model_deploy.targets.protocol import ActualState

Action = Literal["apply", "rollback", "teardown"]
Outcome = Literal["succeeded", "rolled_back", "failed"]
Phase = Literal["starting", "traffic", "finishing", "rolling_back"]


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
        change_kind: ``promotion``, ``config``, ``rollback`` or ``emergency`` (None in records
            written before change kinds existed).
        emergency: The recorded reason of an emergency change.
        cause: Why a failed apply failed: ``model``, ``config`` or ``infrastructure``.
        interrupted: The run was killed mid-way; this record was written by the run that found
            it and finished or undid it.
        run_id: The id of the run (its intent's id), so a run is never recorded twice.
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
    change_kind: str | None = None
    emergency: str | None = None
    cause: str | None = None
    interrupted: bool = False
    run_id: str | None = None


@dataclass(frozen=True)
class DeployHistory:
    """An environment's deployment history as read from its store.

    Attributes:
        records: Every readable record, oldest first.
        warnings: One sentence per record that could not be read (it was skipped: a rollback
            may then not see every deployment), shown by status and rollback.
    """

    records: list[DeploymentRecord]
    warnings: list[str]

    @property
    def last(self) -> DeploymentRecord | None:
        """The newest record, if any."""
        return self.records[-1] if self.records else None


class LockOwner(BaseModel):
    """Who holds (or held) an environment's lock.

    Attributes:
        operation: ``apply``, ``rollback`` or ``recover``.
        pid: Process id of the holder.
        host: Host name of the holder (a pid is only checked on the same host).
        since: When the lock was taken.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    operation: str
    pid: int
    host: str
    since: datetime

    @classmethod
    def me(cls, operation: str) -> LockOwner:
        """This process, now."""
        return cls(
            operation=operation, pid=os.getpid(), host=socket.gethostname(), since=datetime.now(UTC)
        )

    def describe(self) -> str:
        """``apply (pid 12, since 2026-03-02T12:00:00+00:00, on host-a)``."""
        return f"{self.operation} (pid {self.pid}, since {self.since.isoformat()}, on {self.host})"


class LockNote(BaseModel):
    """The content of a lock: its owner, the lease token and when it expires.

    Attributes:
        token: Unique per lease: only the holder of this token may refresh or release it.
        owner: Who holds it.
        expires_at: After this the lock is stale and the next run takes it over.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    token: str
    owner: LockOwner
    expires_at: datetime

    def stale(self, *, now: datetime) -> str | None:
        """Why this lock no longer protects anything (None while its holder may still run).

        Expired, or held by a process of this host that is gone.
        """
        if self.expires_at <= now:
            return f"it expired at {self.expires_at.isoformat()}"
        if self.owner.host == socket.gethostname() and not pid_alive(self.owner.pid):
            return f"process {self.owner.pid} on {self.owner.host} is gone"
        return None

    @classmethod
    def parse(cls, text: str | bytes) -> LockNote | None:
        """The note in a lock's content; None when empty or unreadable (a stale lock)."""
        if not text or not str(text).strip():
            return None
        try:
            return cls.model_validate_json(text)
        except ValidationError:
            return None


@dataclass(frozen=True)
class Lease:
    """A held lock: pass it back to refresh or release it.

    Attributes:
        env: The environment.
        note: What the store holds for it.
        version: Store-specific version of the note (an S3 ETag), for conditional writes.
        took_over: Why a stale lock was replaced on the way in (None when the lock was free).
    """

    env: str
    note: LockNote
    version: str | None = None
    took_over: str | None = None


def new_note(owner: LockOwner, *, token: str, ttl: float) -> LockNote:
    """A lock note for ``owner`` valid for ``ttl`` seconds from now."""
    return LockNote(token=token, owner=owner, expires_at=datetime.now(UTC) + timedelta(seconds=ttl))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class DeployIntent(BaseModel):
    """What a running apply or rollback is doing, written ahead of each step it takes.

    Attributes:
        id: Unique per run.
        env: The environment.
        action: ``apply`` or ``rollback``.
        owner: The process running it.
        started_at: When it started.
        updated_at: When this intent was last written.
        phase: ``starting`` (nothing changed yet), ``traffic`` (shifting traffic: ``step`` of
            ``steps`` sends ``percent`` % to the new version), ``finishing`` (verified; the old
            version is being stopped) or ``rolling_back``.
        desired_ref: The version being deployed (None for a teardown).
        manifest_hash: Hash of the manifest being applied.
        manifest: The manifest being applied.
        before: What served before the run (what an interrupted run goes back to).
        change_kind: The plan's change kind.
        emergency: The emergency reason, if any.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    env: str
    action: Literal["apply", "rollback"]
    owner: LockOwner
    started_at: datetime
    updated_at: datetime
    phase: Phase = "starting"
    step: int = 0
    steps: int = 0
    percent: int = 0
    desired_ref: str | None = None
    manifest_hash: str
    manifest: dict[str, Any]
    before: ActualState | None = None
    change_kind: str | None = None
    emergency: str | None = None

    def describe(self) -> str:
        """One line: ``apply of driver_ranking:2, step 2/4 (50 % on it)``."""
        what = f"{self.action} of {self.desired_ref or 'a teardown'}"
        if self.phase == "traffic":
            return f"{what}, step {self.step}/{self.steps} ({self.percent}% on it)"
        return f"{what}, {self.phase.replace('_', ' ')}"


@dataclass(frozen=True)
class IntentRead:
    """The intent found in a store, and what was wrong with it.

    Attributes:
        intent: The readable intent, if any.
        found: Whether something was there (readable or not): a corrupt intent still means a
            run was interrupted.
        warnings: One sentence per problem (a corrupt intent).
    """

    intent: DeployIntent | None
    found: bool
    warnings: list[str]


def parse_intent(text: str | bytes, *, where: str) -> IntentRead:
    """An intent from its stored JSON (a warning naming ``where`` when corrupt)."""
    try:
        return IntentRead(DeployIntent.model_validate_json(text), True, [])
    except ValidationError:
        return IntentRead(None, True, [f"{where} is corrupt: an interrupted run left it"])


def parse_records(
    items: Sequence[tuple[str, str | bytes]], *, where: str, noun: str = "record"
) -> DeployHistory:
    """Records from ``(label, JSON)`` pairs, oldest first; unreadable ones become one warning.

    ``label`` names an item in the warning (a line number, an object key), ``noun`` what an
    item is (``line``, ``record``).
    """
    records: list[DeploymentRecord] = []
    bad: list[str] = []
    for label, text in items:
        try:
            records.append(DeploymentRecord.model_validate_json(text))
        except ValidationError:
            bad.append(label)
    warnings = []
    if bad:
        shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
        warnings.append(
            f"{where}: skipped {len(bad)} unreadable {noun}(s) ({shown}); the history may be "
            "incomplete"
        )
    return DeployHistory(records, warnings)
