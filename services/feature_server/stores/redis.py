"""Reads Feast's Redis online store directly.

Feast's layout: one hash per entity key (serialized key + project), fields
``mmh3("<view>:<feature>")`` plus ``_ts:<view>``. One pipeline of ``HMGET`` for all views of a
request (``stores.resp``). As in Feast's reader, a key without the hash still counts as found
with null values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from services.errors import ServerConfigError
from services.feature_server.registry import ViewSpec
from services.feature_server.stores.protocol import ViewQuery, unavailable
from services.feature_server.stores.resp import RespClient, RespError, command, hmget, hmget_tail
from services.feature_server.stores.rows import Row
from services.feature_server.timestamps import format_redis_ts

_PARAMS: Final = frozenset({"password", "username", "db", "ssl"})


class RedisReader:
    """Reads Feast's Redis online store with one pipeline per request and short timeouts.

    Commands go through ``stores.resp.RespClient`` (hand-built pipelines, hiredis parsing,
    one shared connection). There are no retries: an unreachable Redis turns into
    ``StoreUnavailableError`` within ``timeout`` seconds, and the next request reconnects.
    """

    kind = "redis"

    def __init__(self, *, connection_string: str, project: str, timeout: float) -> None:
        """Prepare the client settings; connections are made on first use.

        ``connection_string`` is Feast's ``host:port[,key=value...]`` (``password``,
        ``username``, ``db`` and ``ssl`` are understood); ``project`` suffixes every hash
        key; ``timeout`` bounds the connect and every read, in seconds.

        Raises:
            ServerConfigError: The connection string names no ``host:port`` or a parameter
                this reader does not understand.
        """
        from feast.infra.online_stores.redis import RedisOnlineStore

        nodes, params = RedisOnlineStore._parse_connection_string(connection_string)
        if not nodes:
            raise ServerConfigError("redis connection string names no host:port")
        unknown = sorted(set(params) - _PARAMS)
        if unknown:
            raise ServerConfigError(
                f"redis connection string parameter(s) {', '.join(unknown)} are not served "
                f"(understood: {', '.join(sorted(_PARAMS))})"
            )
        self.project = project.encode("utf-8")
        self.timeout = timeout
        self._client = RespClient(
            host=nodes[0]["host"],
            port=int(nodes[0]["port"]),
            timeout=timeout,
            password=None if params.get("password") is None else str(params["password"]),
            username=None if params.get("username") is None else str(params["username"]),
            db=int(params.get("db") or 0),
            tls=str(params.get("ssl", "false")).lower() in ("true", "1", "yes"),
        )
        self._tails: dict[tuple[str, tuple[str, ...]], tuple[bytes, int]] = {}

    def _tail(self, view: ViewSpec, features: tuple[str, ...]) -> tuple[bytes, int]:
        cache_key = (view.redis_name, features)
        found = self._tails.get(cache_key)
        if found is None:
            from feast.infra.online_stores.helpers import _mmh3

            fields = [_mmh3(f"{view.redis_name}:{f}") for f in features]
            fields.append(f"_ts:{view.redis_name}".encode())
            found = self._tails[cache_key] = hmget_tail(fields)
        return found

    async def read(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """HMGET every key of every view in one pipeline."""
        project = self.project
        parts: list[bytes] = []
        for q in queries:
            tail, size = self._tail(q.view, q.features)
            parts.extend(hmget(key + project, tail, size) for key in q.keys)
        try:
            replies = await self._client.execute(b"".join(parts), len(parts))
        except (RespError, OSError, TimeoutError) as exc:
            raise unavailable(self.kind, exc) from exc
        out: list[list[Row | None]] = []
        offset = 0
        for q in queries:
            features = q.features
            rows: list[Row | None] = [
                Row(format_redis_ts(reply[-1]), dict(zip(features, reply, strict=False)))
                for reply in replies[offset : offset + len(q.keys)]
            ]
            offset += len(q.keys)
            out.append(rows)
        return out

    async def ping(self) -> None:
        """PING Redis within the timeout."""
        try:
            await self._client.execute(command(b"PING"), 1)
        except (RespError, OSError, TimeoutError) as exc:
            raise unavailable(self.kind, exc) from exc

    async def probe(self, views: Sequence[ViewSpec]) -> None:
        """PING: Feast's Redis layout has no per-view table to look for."""
        await self.ping()

    async def close(self) -> None:
        """Close the connection."""
        await self._client.close()
