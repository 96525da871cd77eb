"""Reads Feast's Redis online store directly.

Feast's layout: one hash per entity key (serialized key + project), fields
``mmh3("<view>:<feature>")`` plus ``_ts:<view>``. One pipeline of ``HMGET`` for all views of a
request. As in Feast's reader, a key without the hash still counts as found with null values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from services.errors import ServerConfigError
from services.feature_server.registry import ViewSpec
from services.feature_server.stores.protocol import ViewQuery, unavailable
from services.feature_server.stores.rows import Row
from services.feature_server.timestamps import format_redis_ts


class RedisReader:
    """Reads Feast's Redis online store with one pipeline per request and short timeouts.

    There are no client-side retries: an unreachable Redis turns into ``StoreUnavailableError``
    within ``timeout`` seconds, and the connection pool reconnects by itself once Redis is back.
    """

    kind = "redis"

    def __init__(self, *, connection_string: str, project: str, timeout: float) -> None:
        """Prepare the client settings; connections are made on first use.

        ``connection_string`` is Feast's ``host:port[,key=value...]``; ``project`` suffixes
        every hash key; ``timeout`` bounds the connect and every read, in seconds.

        Raises:
            ServerConfigError: The connection string names no ``host:port``.
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
            raise unavailable(self.kind, exc) from exc
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
            raise unavailable(self.kind, exc) from exc

    async def probe(self, views: Sequence[ViewSpec]) -> None:
        """PING: Feast's Redis layout has no per-view table to look for."""
        await self.ping()

    async def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
