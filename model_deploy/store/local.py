"""The local state store (embedded default): files under the deploy state folder.

Layout under the state folder (default ``.slipway/deploy``)::

    <env>/apply.lock      the lock note (owner, token, expiry); empty when free. Every read and
                          write of it happens under a short fcntl lock on the same file, so two
                          processes (or threads) never both take it.
    <env>/history.jsonl   one DeploymentRecord per line, oldest first (append-only)
    <env>/intent.json     the intent of the run in progress (replaced atomically)
    <env>/...             target-owned files (the local target's state, logs and bundles)
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from foundation.files import write_text_atomic
from model_deploy.errors import LockedError, StateStoreError
from model_deploy.store.records import (
    DeployHistory,
    DeployIntent,
    DeploymentRecord,
    IntentRead,
    Lease,
    LockNote,
    LockOwner,
    new_note,
    parse_intent,
    parse_records,
)

HISTORY_FILE = "history.jsonl"
LOCK_FILE = "apply.lock"
INTENT_FILE = "intent.json"


class LocalStateStore:
    """Locks, histories and intents as files under ``root`` (one folder per environment)."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def location(self, env: str) -> str:
        """``<root>/<env>``."""
        return str(self.root / env)

    # -- lock ----------------------------------------------------------------------------------

    def acquire(self, env: str, *, owner: LockOwner, ttl: float) -> Lease:
        """Take the lock (see :meth:`StateStore.acquire`)."""
        path = self._dir(env) / LOCK_FILE
        with _guarded(path, exclusive=True) as fd:
            content = _read_fd(fd)
            current = LockNote.parse(content)
            took_over = None
            if current is not None:
                stale = current.stale(now=datetime.now(UTC))
                if stale is None:
                    holder = current.owner.describe()
                    raise LockedError(
                        f"{env}: another {holder} is running; wait for it to finish (lock: {path})",
                        holder=holder,
                    )
                took_over = f"took over the stale lock of {current.owner.describe()}: {stale}"
            elif content.strip():
                took_over = "took over a corrupt lock"
            note = new_note(owner, token=uuid.uuid4().hex, ttl=ttl)
            _write_fd(fd, note.model_dump_json())
        return Lease(env=env, note=note, took_over=took_over)

    def refresh(self, lease: Lease, *, ttl: float) -> Lease:
        """Extend the lease (see :meth:`StateStore.refresh`)."""
        path = self._dir(lease.env) / LOCK_FILE
        with _guarded(path, exclusive=True) as fd:
            current = LockNote.parse(_read_fd(fd))
            if current is None or current.token != lease.note.token:
                by = current.owner.describe() if current else "nobody"
                raise LockedError(
                    f"{lease.env}: the lock was lost (it is now held by {by})", holder=by
                )
            note = new_note(lease.note.owner, token=lease.note.token, ttl=ttl)
            _write_fd(fd, note.model_dump_json())
        return Lease(env=lease.env, note=note)

    def release(self, lease: Lease) -> None:
        """Give the lease back (see :meth:`StateStore.release`)."""
        path = self.root / lease.env / LOCK_FILE
        if not path.exists():
            return
        with _guarded(path, exclusive=True) as fd:
            current = LockNote.parse(_read_fd(fd))
            if current is not None and current.token == lease.note.token:
                _write_fd(fd, "")

    def holder(self, env: str) -> LockOwner | None:
        """The live holder, if any (reads only; nothing is created)."""
        path = self.root / env / LOCK_FILE
        if not path.is_file():
            return None
        with _guarded(path, exclusive=False, create=False) as fd:
            current = LockNote.parse(_read_fd(fd))
        if current is None or current.stale(now=datetime.now(UTC)) is not None:
            return None
        return current.owner

    # -- history -------------------------------------------------------------------------------

    def append_history(self, env: str, record: DeploymentRecord) -> None:
        """Append one line (a single ``write``, fsynced)."""
        path = self._dir(env) / HISTORY_FILE
        line = record.model_dump_json() + "\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StateStoreError(f"cannot append to {path}: {exc.strerror}") from exc

    def read_history(self, env: str) -> DeployHistory:
        """Every readable line, oldest first (see :meth:`StateStore.read_history`)."""
        path = self.root / env / HISTORY_FILE
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return DeployHistory([], [])
        except OSError as exc:
            raise StateStoreError(f"cannot read the deploy history {path}: {exc.strerror}") from exc
        items = [
            (str(number), line)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
        return parse_records(items, where=str(path), noun="line")

    # -- intent --------------------------------------------------------------------------------

    def write_intent(self, env: str, intent: DeployIntent) -> None:
        """Replace ``intent.json`` atomically."""
        path = self._dir(env) / INTENT_FILE
        try:
            write_text_atomic(path, intent.model_dump_json(indent=2) + "\n")
        except OSError as exc:
            raise StateStoreError(f"cannot write {path}: {exc.strerror}") from exc

    def read_intent(self, env: str) -> IntentRead:
        """``intent.json``, if any."""
        path = self.root / env / INTENT_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return IntentRead(None, False, [])
        except OSError as exc:
            return IntentRead(None, True, [f"cannot read {path}: {exc.strerror}"])
        return parse_intent(text, where=str(path))

    def clear_intent(self, env: str) -> None:
        """Remove ``intent.json``."""
        path = self.root / env / INTENT_FILE
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StateStoreError(f"cannot remove {path}: {exc.strerror}") from exc

    def _dir(self, env: str) -> Path:
        path = self.root / env
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateStoreError(
                f"cannot create the deploy state folder {path}: {exc.strerror}"
            ) from exc
        return path


@contextmanager
def _guarded(path: Path, *, exclusive: bool, create: bool = True) -> Iterator[int]:
    """The lock file open and ``flock``-ed (briefly: only while its note is read or written)."""
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise StateStoreError(f"cannot open the lock {path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_fd(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _write_fd(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode("utf-8"))
    os.fsync(fd)
