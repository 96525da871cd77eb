"""Reads Feast's SQLite online store directly.

Feast's layout: table ``<project>_<view>`` with ``entity_key`` (Feast's serialized key),
``feature_name``, ``value`` (``ValueProto`` bytes) and ``event_ts`` (epoch seconds). At most one
``SELECT ... WHERE entity_key IN (...)`` per view and batch of keys on a read-only connection;
rows are taken as Feast's ``SqliteOnlineStore.online_read`` takes them (a key without rows is not
found, the row timestamp is the last row's). An optional row cache is dropped whenever the
database shows a commit by another connection (header change counter, or ``PRAGMA
data_version`` in WAL mode), so it never serves stale data.

Reads run on the event loop with no busy wait at all: a read that finds the database locked
by a writer is retried in a worker thread with the full busy timeout, so a lock wait never
holds up other requests, ``/healthz`` or ``/metrics``. Every read checks the file's identity
(one ``stat``): a database renamed over the old one is read from the very next request.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

from services.feature_server.errors import StoreUnavailableError
from services.feature_server.registry import ViewSpec
from services.feature_server.stores.protocol import ViewQuery, unavailable
from services.feature_server.stores.rows import Row
from services.feature_server.timestamps import epoch_seconds, format_sqlite_ts

_SQL_KEYS: Final = 10_000
_KEY: Final = itemgetter(0)
_NAME: Final = itemgetter(1)
_VALUE: Final = itemgetter(2)
_MISS: Any = object()


class DatabaseBusyError(StoreUnavailableError):
    """A writer holds the database lock (the read is retried off the event loop)."""


class SqliteReader:
    """Reads Feast's SQLite online store through a read-only connection per thread.

    Reads are sub-millisecond, so they run on the calling (event loop) thread instead of paying
    a thread-pool hop; only a read that finds the database locked moves to a worker thread,
    where the busy timeout bounds its wait behind the writer.
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
        self._path = os.fspath(path)

    def _conn(self, *, wait: bool = False) -> sqlite3.Connection:
        """This thread's connection, reopened when the file was replaced.

        ``wait`` gives the connection the full busy timeout (worker threads); without it a
        locked database fails at once (the event loop thread).
        """
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        try:
            stat = os.stat(self._path)
        except OSError as exc:
            self._reset()
            raise StoreUnavailableError("sqlite: database file missing") from exc
        if conn is not None and (stat.st_dev, stat.st_ino) != local.ident:
            # A re-created or renamed-in database is a new file: reopen, never serve the old one.
            self._reset()
            conn = None
        if conn is None:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=self.timeout if wait else 0.0,
                check_same_thread=False,
                cached_statements=512,
            )
            # No mmap: a database truncated under a mapping kills the process (SIGBUS).
            local.conn, local.ident = conn, (stat.st_dev, stat.st_ino)
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

    def read_sync(
        self, queries: Sequence[ViewQuery], *, wait: bool = True
    ) -> list[list[Row | None]]:
        """Run the queries on this thread; see ``read``.

        ``wait`` False fails at once with ``DatabaseBusyError`` when a writer holds the lock.

        With the row cache on, the database's data version is checked first (see
        ``_data_version``): it changes whenever another connection (a materialization, a
        push) commits, and then the cache is dropped. Only keys not in the cache are selected,
        so a read never returns data older than the last commit it could have seen.

        Raises:
            StoreUnavailableError: The database is missing, locked past the timeout or broken.
        """
        try:
            conn = self._conn(wait=wait)
            if self.cache_entries <= 0:
                return [self._select(conn, q.view, q.keys, self._local.batch) for q in queries]
            local = self._local
            version = self._data_version()
            if version != local.version:
                local.cache, local.version, local.cached = {}, version, 0
            return [self._cached(conn, q) for q in queries]
        except sqlite3.OperationalError as exc:
            if not wait and getattr(exc, "sqlite_errorname", "") == "SQLITE_BUSY":
                raise DatabaseBusyError("sqlite: database is locked") from exc
            self._reset()
            raise unavailable(self.kind, exc) from exc
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
        for key, group in groupby(rows, _KEY):
            cells = list(group)
            found[key] = Row(
                format_sqlite_ts(cells[-1][3]),
                dict(zip(map(_NAME, cells), map(_VALUE, cells), strict=True)),
            )
        return [found.get(key) for key in keys]

    async def read(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """Read on the event loop thread; behind a writer's lock, wait in a worker thread."""
        try:
            return self.read_sync(queries, wait=False)
        except DatabaseBusyError:
            return await asyncio.to_thread(self.read_sync, queries, wait=True)

    async def ping(self) -> None:
        """Check that the database opens and answers a query (in a worker thread)."""
        await asyncio.to_thread(self._probe, ())

    async def probe(self, views: Sequence[ViewSpec]) -> None:
        """Read one row of every view's table (in a worker thread); raise if one is missing."""
        await asyncio.to_thread(self._probe, views)

    def _probe(self, views: Sequence[ViewSpec]) -> None:
        try:
            conn = self._conn(wait=True)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            for view in views:
                table = view.sqlite_table.replace('"', '""')
                try:
                    conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()  # noqa: S608
                except sqlite3.OperationalError as exc:
                    if "no such table" not in str(exc):
                        raise
                    raise StoreUnavailableError(
                        f"sqlite: no table for feature view {view.name!r} (not applied?)"
                    ) from exc
        except sqlite3.Error as exc:
            self._reset()
            raise unavailable(self.kind, exc) from exc

    async def newest_event(self, views: Sequence[ViewSpec]) -> dict[str, float]:
        """Epoch seconds of the newest ``event_ts`` of each view's table (in a worker thread).

        Views without a table or without rows are left out; used for the freshness gauge.

        Raises:
            StoreUnavailableError: The database cannot be read.
        """
        return await asyncio.to_thread(self._newest, views)

    def _newest(self, views: Sequence[ViewSpec]) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            conn = self._conn(wait=True)
            for view in views:
                table = view.sqlite_table.replace('"', '""')
                try:
                    row = conn.execute(f'SELECT MAX(event_ts) FROM "{table}"').fetchone()  # noqa: S608
                except sqlite3.OperationalError as exc:
                    if "no such table" in str(exc):
                        continue
                    raise
                if row is not None and row[0] is not None:
                    out[view.name] = epoch_seconds(row[0])
        except sqlite3.Error as exc:
            self._reset()
            raise unavailable(self.kind, exc) from exc
        return out

    async def close(self) -> None:
        """Close this thread's connection."""
        self._reset()
