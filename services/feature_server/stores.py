"""Direct readers of the online stores Feast materializes into (SQLite and Redis).

Both read exactly Feast's layout, so the service returns what ``feast materialize`` wrote:

* SQLite: table ``<project>_<view>`` with ``entity_key`` (Feast's serialized key), ``feature_name``,
  ``value`` (``ValueProto`` bytes) and ``event_ts`` (epoch seconds). At most one ``SELECT ...
  WHERE entity_key IN (...)`` per view on a read-only connection; rows are taken as Feast's
  ``SqliteOnlineStore.online_read`` takes them (a key without rows is not found, the row
  timestamp is the last row's). An optional row cache is dropped whenever the database shows a
  commit by another connection (header change counter, or ``PRAGMA data_version`` in WAL
  mode), so it never serves stale data.
* Redis: one hash per entity key (serialized key + project), fields ``mmh3("<view>:<feature>")``
  plus ``_ts:<view>``. One pipeline of ``HMGET`` for all views. As in Feast's reader, a key
  without the hash still counts as found with null values.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from services.errors import ServerConfigError
from services.feature_server.encoding import decode_value
from services.feature_server.errors import StoreUnavailableError
from services.feature_server.registry import ViewSpec
from services.feature_server.timestamps import format_redis_ts, format_sqlite_ts

_RECHECK_SECONDS = 1.0
_PICKS_PER_ROW = 16
_SQL_KEYS = 10_000
_FEATURE_SETS_LIMIT = 4096
_MISS: Any = object()
MISSING: Any = object()
"""Stands for a feature the stored row does not hold (reported ``NOT_FOUND``)."""


class Partial(tuple[Any, ...]):
    """Picked values of a row that lacks some of the features (they are ``MISSING``).

    A distinct type lets a caller find incomplete rows with one ``set(map(type, ...))``.
    """

    __slots__ = ()


class Row:
    """One entity's stored data in one view.

    Attributes:
        ts: Formatted event timestamp.
        raw: ``ValueProto`` bytes per stored feature (None or empty: null).
    """

    __slots__ = ("_pick", "_pick_key", "_picks", "raw", "ts")

    def __init__(self, ts: str, raw: dict[str, bytes | None]) -> None:
        """Wrap a timestamp and the raw values."""
        self.ts = ts
        self.raw = raw
        self._pick_key: tuple[str, ...] | None = None
        self._pick: tuple[Any, ...] | None = None
        self._picks: dict[tuple[str, ...], tuple[Any, ...]] | None = None

    def pick(self, features: tuple[str, ...]) -> tuple[Any, ...]:
        """The JSON values of ``features`` in that order, then the formatted timestamp.

        A feature the row does not hold is ``MISSING`` (Feast reports it ``NOT_FOUND``) and the
        result is then a ``Partial``; a stored null is ``None`` (``PRESENT``). The answer is
        kept per feature tuple, so a cached row costs one identity check per request for the
        usual single plan.

        Args:
            features: Feature names (a plan's tuple: the same object on every request).

        Returns:
            ``(*values, ts)`` (a ``Partial`` when some value is ``MISSING``).
        """
        if self._pick_key is features:
            return self._pick  # type: ignore[return-value]
        picks = self._picks
        if picks is None:
            picks = self._picks = {}
        found = picks.get(features)
        if found is None:
            raw = self.raw
            values = [
                MISSING if (b := raw.get(f, MISSING)) is MISSING else decode_value(b)
                for f in features
            ]
            values.append(self.ts)
            found = tuple(values) if raw.keys() >= _feature_set(features) else Partial(values)
            if len(picks) < _PICKS_PER_ROW:
                picks[features] = found
        self._pick_key, self._pick = features, found
        return found


_feature_sets: dict[tuple[str, ...], frozenset[str]] = {}


def _feature_set(features: tuple[str, ...]) -> frozenset[str]:
    found = _feature_sets.get(features)
    if found is None:
        if len(_feature_sets) >= _FEATURE_SETS_LIMIT:
            _feature_sets.clear()
        found = _feature_sets[features] = frozenset(features)
    return found


@dataclass(frozen=True, slots=True)
class ViewQuery:
    """Read these features of one view for these (unique, serialized) entity keys."""

    view: ViewSpec
    features: tuple[str, ...]
    keys: list[bytes]


class OnlineStoreReader(Protocol):
    """Reads Feast's online store directly."""

    kind: str

    async def read(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """Read every query; one result list per query, one entry per key (None: not found)."""
        ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailableError`` unless the store answers."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class SqliteReader:
    """Reads Feast's SQLite online store through a read-only connection per thread.

    Reads are sub-millisecond, so they run on the calling (event loop) thread instead of paying
    a thread-pool hop; the busy timeout bounds the wait behind a writer.
    """

    kind = "sqlite"

    def __init__(self, *, path: Path, timeout: float, cache_entries: int = 0) -> None:
        """Remember where the database is; it is opened on first use (and after errors).

        Args:
            path: The SQLite file Feast writes.
            timeout: Busy timeout in seconds.
            cache_entries: Entity keys kept per thread between commits (0: no cache).
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
            raise StoreUnavailableError(f"sqlite: {type(exc).__name__}") from exc

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
            raise StoreUnavailableError(f"sqlite: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """Close this thread's connection."""
        self._reset()


class RedisReader:
    """Reads Feast's Redis online store with one pipeline per request and short timeouts.

    There are no client-side retries: an unreachable Redis turns into ``StoreUnavailableError``
    within ``timeout`` seconds, and the connection pool reconnects by itself once Redis is back.
    """

    kind = "redis"

    def __init__(self, *, connection_string: str, project: str, timeout: float) -> None:
        """Prepare the client settings; connections are made on first use.

        Args:
            connection_string: Feast's ``host:port[,key=value...]`` connection string.
            project: Feast project (suffix of every hash key).
            timeout: Connect and read timeout in seconds.
        """
        from feast.infra.online_stores.redis import RedisOnlineStore

        nodes, params = RedisOnlineStore._parse_connection_string(connection_string)
        if not nodes:
            raise ServerConfigError("redis connection string names no host:port")
        self._kwargs: dict[str, Any] = {
            **params,
            "host": nodes[0]["host"],
            "port": int(nodes[0]["port"]),
        }
        self.project = project.encode("utf-8")
        self.timeout = timeout
        self._client: Any = None
        self._fields: dict[tuple[str, tuple[str, ...]], list[bytes | str]] = {}

    def _get_client(self) -> Any:
        if self._client is None:
            from redis.asyncio import Redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            redis_cls: Any = Redis
            self._client = redis_cls(
                **self._kwargs,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
        return self._client

    def _hash_fields(self, view: ViewSpec, features: tuple[str, ...]) -> list[bytes | str]:
        cache_key = (view.redis_name, features)
        fields = self._fields.get(cache_key)
        if fields is None:
            from feast.infra.online_stores.helpers import _mmh3

            fields = [_mmh3(f"{view.redis_name}:{f}") for f in features]
            fields.append(f"_ts:{view.redis_name}")
            self._fields[cache_key] = fields
        return fields

    async def read(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """HMGET every key of every view in one pipeline."""
        from redis.exceptions import RedisError

        client = self._get_client()
        try:
            async with asyncio.timeout(self.timeout):
                pipe = client.pipeline(transaction=False)
                for q in queries:
                    fields = self._hash_fields(q.view, q.features)
                    for key in q.keys:
                        pipe.hmget(key + self.project, fields)
                replies = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc
        out: list[list[Row | None]] = []
        offset = 0
        for q in queries:
            rows: list[Row | None] = []
            for reply in replies[offset : offset + len(q.keys)]:
                rows.append(
                    Row(format_redis_ts(reply[-1]), dict(zip(q.features, reply, strict=False)))
                )
            offset += len(q.keys)
            out.append(rows)
        return out

    async def ping(self) -> None:
        """PING Redis within the timeout."""
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(self.timeout):
                await self._get_client().ping()
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def open_reader(config: Any, *, timeout: float, sqlite_cache_entries: int = 0) -> OnlineStoreReader:
    """Choose the reader for a Feast repo config.

    Args:
        config: The validated Feast ``RepoConfig``.
        timeout: Store timeout in seconds.
        sqlite_cache_entries: Row cache size of the SQLite reader (0: off).

    Returns:
        A SQLite or Redis reader.

    Raises:
        ServerConfigError: The online store type (or Redis topology) is not served.
    """
    store = config.online_store
    kind = getattr(store, "type", "")
    if kind == "sqlite" or str(kind).endswith("SqliteOnlineStore"):
        from feast.infra.online_stores.sqlite import SqliteOnlineStore

        return SqliteReader(
            path=Path(SqliteOnlineStore._get_db_path(config)),
            timeout=timeout,
            cache_entries=sqlite_cache_entries,
        )
    if kind == "redis" or str(kind).endswith("RedisOnlineStore"):
        redis_type = getattr(store.redis_type, "value", store.redis_type)
        if redis_type != "redis":
            raise ServerConfigError(
                f"online store redis_type {redis_type!r} is not served by the feature service "
                "(only 'redis')"
            )
        return RedisReader(
            connection_string=store.connection_string, project=config.project, timeout=timeout
        )
    raise ServerConfigError(
        f"online store type {kind!r} is not served by the feature service (sqlite, redis)"
    )
