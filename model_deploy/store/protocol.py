"""The deploy state store: one lock per environment, its deployment history and its intent.

Every apply and rollback holds the environment's lock (a lease with an owner and an expiry),
writes its intent ahead of every traffic step and appends one record to the history when it
ends. Two stores implement it: ``local`` (files under the state folder, the embedded default)
and ``s3`` (objects with conditional writes, which every GitHub-hosted runner sees).
``tests/contract/test_state_store_contract.py`` holds both to this contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from model_deploy.store.records import (
    DeployHistory,
    DeployIntent,
    DeploymentRecord,
    IntentRead,
    Lease,
    LockOwner,
)


@runtime_checkable
class StateStore(Protocol):
    """Where locks, histories and intents of every environment live."""

    kind: str

    def location(self, env: str) -> str:
        """Where ``env``'s state lives, for messages (a folder, an ``s3://`` prefix)."""
        ...

    def acquire(self, env: str, *, owner: LockOwner, ttl: float) -> Lease:
        """Take ``env``'s lock for ``ttl`` seconds.

        A stale lock (expired, or its holder gone) is taken over, and the lease says why.

        Raises:
            LockedError: A live holder has it; the message names the holder.
            StateStoreError: The store failed.
        """
        ...

    def refresh(self, lease: Lease, *, ttl: float) -> Lease:
        """Extend a held lease by ``ttl`` seconds from now.

        Raises:
            LockedError: The lease was lost (taken over after it expired).
        """
        ...

    def release(self, lease: Lease) -> None:
        """Give a held lease back (a lease already taken over is left alone)."""
        ...

    def holder(self, env: str) -> LockOwner | None:
        """Who holds ``env``'s lock now, if a live holder does (a stale lock reads as free)."""
        ...

    def append_history(self, env: str, record: DeploymentRecord) -> None:
        """Add one record after every other (never rewrites a record)."""
        ...

    def read_history(self, env: str) -> DeployHistory:
        """Every readable record, oldest first, and a warning per unreadable one.

        Raises:
            StateStoreError: The history cannot be read at all.
        """
        ...

    def write_intent(self, env: str, intent: DeployIntent) -> None:
        """Replace ``env``'s intent (written by the lock holder ahead of each step)."""
        ...

    def read_intent(self, env: str) -> IntentRead:
        """The intent left by a running or interrupted run, if any."""
        ...

    def clear_intent(self, env: str) -> None:
        """Remove ``env``'s intent (the run ended and its record is in the history)."""
        ...


@dataclass
class LockHandle:
    """A lock held inside :func:`holding_lock`; :meth:`refresh` keeps it alive."""

    store: StateStore
    lease: Lease
    ttl: float

    def refresh(self) -> None:
        """Extend the lease (each traffic step calls this).

        Raises:
            LockedError: The lease was lost.
        """
        self.lease = self.store.refresh(self.lease, ttl=self.ttl)


@contextmanager
def holding_lock(
    store: StateStore, env: str, *, operation: str, ttl: float
) -> Iterator[LockHandle]:
    """Hold ``env``'s lock for the block (non-blocking: fails at once when it is taken).

    Raises:
        LockedError: A live holder has it.
    """
    handle = LockHandle(store, store.acquire(env, owner=LockOwner.me(operation), ttl=ttl), ttl)
    try:
        yield handle
    finally:
        store.release(handle.lease)
