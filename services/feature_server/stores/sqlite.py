"""Reads Feast's SQLite online store directly.

Feast's layout: table ``<project>_<view>`` with ``entity_key`` (Feast's serialized key),
``feature_name``, ``value`` (``ValueProto`` bytes) and ``event_ts`` (epoch seconds). At most one
``SELECT ... WHERE entity_key IN (...)`` per view and batch of keys on a read-only connection;
rows are taken as Feast's ``SqliteOnlineStore.online_read`` takes them (a key without rows is not
found, the row timestamp is the last row's). An optional row cache is dropped whenever the
database shows a commit by another connection (header change counter, or ``PRAGMA
data_version`` in WAL mode), so it never serves stale data.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from services.feature_server.errors import StoreUnavailableError
from services.feature_server.registry import ViewSpec
from services.feature_server.stores.protocol import ViewQuery, unavailable
from services.feature_server.stores.rows import Row
from services.feature_server.timestamps import format_sqlite_ts

_RECHECK_SECONDS: Final = 1.0
_SQL_KEYS: Final = 10_000
_MISS: Any = object()


class SqliteReader:
    """Reads Feast's SQLite online store through a read-only connection per thread.

    Reads are sub-millisecond, so they run on the calling (event loop) thread instead of paying
    a thread-pool hop; the busy timeout bounds the wait behind a writer.
    """

    kind = "sqlite"

    def __init__(self, *, path: Path, timeout: float, cache_entries: int = 0) -> None:
        """Remember where the database is; it is opened on first use (and after errors).

        ``timeout`` is SQLite's busy timeout in seconds; ``cache_entries`` is how many entity
        keys each thread keeps between two commits (0: no cache).
        """
        self.path = path
        self.timeout = timeout
        self.cache_entries = cache_entries
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        now = time.monotonic()
        if conn is not None and now - local.checked > _RECHECK_SECONDS:
            # A re-created database (teardown + apply) is a new file: reopen, never serve the
            # unlinked old one.
            local.checked = now
            try:
                stat = os.stat(self.path)
            except OSError as exc:
                self._reset()
                raise StoreUnavailableError("sqlite: database file missing") from exc
            if (stat.st_dev, stat.st_ino) != local.ident:
                self._reset()
                conn = None
        if conn is None:
            try:
                stat = os.stat(self.path)
            except OSError as exc:
                raise StoreUnavailableError("sqlite: database file missing") from exc
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=self.timeout,
                check_same_thread=False,
                cached_statements=512,
            )
            local.conn, local.ident, local.checked = conn, (stat.st_dev, stat.st_ino), now
            local.cache, local.version, local.cached = {}, None, 0
            local.pragma = conn.cursor()
            local.batch = min(_SQL_KEYS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
            local.header = None
            if self.cache_entries > 0:
                try:
                    local.header = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    local.header = None
        return conn

    def _reset(self) -> None:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        local.conn = None
        if conn is not None:
            conn.close()
        header: int | None = getattr(local, "header", None)
        local.header = None
        if header is not None:  # after the connection: closing it drops this process's locks
            os.close(header)

    def _data_version(self) -> Any:
        """A value that changes whenever another connection commits to the database.

        In rollback-journal mode (Feast's default) this is the file change counter of the
        database header (bytes 24-27), which SQLite increments on every commit for exactly this
        purpose; one ``pread`` costs a fraction of a ``PRAGMA`` round trip. In WAL mode
        (header bytes 18-19 are 2) that counter is not maintained, so ``PRAGMA data_version``
        is asked instead.
        """
        local = self._local
        if local.header is not None:
            head = os.pread(local.header, 28, 0)
            if len(head) == 28 and head[18] == 1 and head[19] == 1:
                return head[24:28]
        return local.pragma.execute("PRAGMA data_version").fetchone()[0]

    def read_sync(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """Run the queries on this thread; see ``read``.

        With the row cache on, the database's data version is checked first (see
        ``_data_version``): it changes whenever another connection (a materialization, a
        push) commits, and then the cache is dropped. Only keys not in the cache are selected,
        so a read never returns data older than the last commit it could have seen.

        Raises:
            StoreUnavailableError: The database is missing, locked past the timeout or broken.
        """
        try:
            conn = self._conn()
            if self.cache_entries <= 0:
                return [self._select(conn, q.view, q.keys, self._local.batch) for q in queries]
            local = self._local
            version = self._data_version()
            if version != local.version:
                local.cache, local.version, local.cached = {}, version, 0
            return [self._cached(conn, q) for q in queries]
        except (sqlite3.Error, OSError) as exc:
            self._reset()
            raise unavailable(self.kind, exc) from exc

    def _cached(self, conn: sqlite3.Connection, query: ViewQuery) -> list[Row | None]:
        local = self._local
        table: dict[bytes, Row | None] = local.cache.setdefault(query.view.sqlite_table, {})
        rows: list[Any] = list(map(table.get, query.keys))
        if None not in rows:
            return rows
        rows = [table.get(key, _MISS) for key in query.keys]  # not cached, or absent from store
        missing = [key for key, row in zip(query.keys, rows, strict=True) if row is _MISS]
        if not missing:
            return rows
        fetched = self._select(conn, query.view, missing, local.batch)
        if local.cached + len(missing) > self.cache_entries:
            local.cache, local.cached = {query.view.sqlite_table: {}}, 0
            table = local.cache[query.view.sqlite_table]
        table.update(zip(missing, fetched, strict=True))
        local.cached += len(missing)
        it = iter(fetched)
        return [next(it) if row is _MISS else row for row in rows]

    @staticmethod
    def _select(
        conn: sqlite3.Connection, view: ViewSpec, keys: list[bytes], size: int
    ) -> list[Row | None]:
        table = view.sqlite_table.replace('"', '""')
        rows: list[Any] = []
        for start in range(0, len(keys), size):  # at most the connection's variable limit
            batch = keys[start : start + size]
            marks = ",".join("?" * len(batch))
            rows += conn.execute(
                f'SELECT entity_key, feature_name, value, event_ts FROM "{table}" '  # noqa: S608
                f"WHERE entity_key IN ({marks}) ORDER BY entity_key",
                batch,
            ).fetchall()
        found: dict[bytes, Row] = {}
        current: bytes | None = None
        values: dict[str, bytes | None] = {}
        last_ts: Any = None
        for key, feature, value, ts in rows:
            if key != current:
                if current is not None:
                    found[current] = Row(format_sqlite_ts(last_ts), values)
                current, values = key, {}
            values[feature] = value
            last_ts = ts
        if current is not None:
            found[current] = Row(format_sqlite_ts(last_ts), values)
        return [found.get(key) for key in keys]

    async def read(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """Read on the event loop thread (fast, bounded by the busy timeout)."""
        return self.read_sync(queries)

    async def ping(self) -> None:
        """Check that the database opens (the file is re-checked now) and answers a query."""
        if getattr(self._local, "conn", None) is not None:
            self._local.checked = -_RECHECK_SECONDS
        try:
            self._conn().execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            self._reset()
            raise unavailable(self.kind, exc) from exc

    async def close(self) -> None:
        """Close this thread's connection."""
        self._reset()
