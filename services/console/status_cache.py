"""Deployment statuses kept for ``SLIPWAY_CONSOLE_STATUS_TTL`` seconds, refreshed behind pages.

Reading one status asks the target (a SageMaker describe call, or the local processes) and
reads the state store, so a page of 200 deployments cannot ask each time. A status younger
than the TTL is served as it is; an older one is served too while one background thread
reads it again (stale-while-revalidate), so a page never waits for a refresh; a deployment
never read before is read during the request. TTL 0 reads every status on every request.
Each status carries the time it was read, which the pages show.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from model_deploy.status import EnvStatus

logger = logging.getLogger("slipway.console")


@dataclass(frozen=True)
class TimedStatus:
    """A status and when it was read."""

    status: EnvStatus
    read_at: datetime
    monotonic: float


class StatusCache:
    """Statuses by deployment key (see the module docstring); safe across threads."""

    def __init__(self, *, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, TimedStatus] = {}
        self._refreshing: set[str] = set()

    def get(self, keys: list[str], read: Callable[[str], EnvStatus]) -> dict[str, TimedStatus]:
        """The status of each of ``keys``; ``read`` reads one (it must not raise)."""
        now = time.monotonic()
        with self._lock:
            known = {k: self._entries[k] for k in keys if k in self._entries}
        if self.ttl <= 0:
            known = {}
        stale = [k for k, e in known.items() if now - e.monotonic > self.ttl]
        for key in keys:
            if key not in known:
                known[key] = self._store(key, read(key))
        if stale:
            self._refresh(stale, read)
        return {k: known[k] for k in keys}

    def _store(self, key: str, status: EnvStatus) -> TimedStatus:
        entry = TimedStatus(status, datetime.now(UTC), time.monotonic())
        with self._lock:
            self._entries[key] = entry
        return entry

    def _refresh(self, keys: list[str], read: Callable[[str], EnvStatus]) -> None:
        with self._lock:
            todo = [k for k in keys if k not in self._refreshing]
            self._refreshing.update(todo)
        if not todo:
            return

        def run() -> None:
            try:
                for key in todo:
                    self._store(key, read(key))
            except Exception:
                logger.exception("refreshing deployment statuses failed")
            finally:
                with self._lock:
                    self._refreshing.difference_update(todo)

        threading.Thread(target=run, name="console-status-refresh", daemon=True).start()
