"""Reads Feast's Redis online store on a Redis Cluster (``redis_type: redis_cluster``).

The layout is Feast's single-node one (``stores.redis``): one hash per entity key (serialized
key + project), fields ``mmh3("<view>:<feature>")`` and ``_ts:<view>``; Feast's cluster writer
stores the same keys, spread over the nodes by hash slot. Routing is redis-py's asyncio
cluster client (as in Feast's own reader): it keeps the slot map, follows ``MOVED`` (refreshing
the map) and ``ASK`` (``ASKING`` then the command on the importing node), and sends one
pipeline per node, concurrently.

A stopped node fails only the requests that have a key on it: the others are answered by the
live nodes (the cluster runs with ``cluster-require-full-coverage no`` for that). Every read is
bounded by the timeout; after a connection failure the client reloads the slot map on the next
read, so a node that comes back (or a failover to a replica) is picked up without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

from services.errors import ServerConfigError
from services.feature_server.registry import ViewSpec
from services.feature_server.stores.protocol import ViewQuery, unavailable
from services.feature_server.stores.rows import Row
from services.feature_server.timestamps import format_redis_ts

_PARAMS: Final = frozenset({"password", "username", "ssl"})


def _failures() -> tuple[type[BaseException], ...]:
    """What a failed cluster call raises, redis imported on first use.

    ``RedisClusterException`` is not a ``RedisError``: no reachable startup node, a slot not
    covered.
    """
    from redis.exceptions import RedisClusterException, RedisError

    return (RedisError, RedisClusterException, OSError, TimeoutError)


def parse_cluster_nodes(connection_string: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The startup nodes and parameters of Feast's ``host:port[,host:port...][,key=value...]``.

    Raises:
        ServerConfigError: No ``host:port``, or a parameter this reader does not understand
            (``db`` included: a cluster has only database 0).
    """
    from feast.infra.online_stores.redis import RedisOnlineStore

    nodes, params = RedisOnlineStore._parse_connection_string(connection_string)
    if not nodes:
        raise ServerConfigError("redis cluster connection string names no host:port")
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise ServerConfigError(
            f"redis cluster connection string parameter(s) {', '.join(unknown)} are not served "
            f"(understood: {', '.join(sorted(_PARAMS))})"
        )
    return [(str(n["host"]), int(n["port"])) for n in nodes], dict(params)


class RedisClusterReader:
    """Reads Feast's Redis layout on a Redis Cluster, one pipeline per node and request.

    Connections are made on first use. An unreachable node, or a cluster that does not answer
    within ``timeout``, turns into ``StoreUnavailableError`` for that request only.
    """

    kind = "redis_cluster"

    def __init__(self, *, connection_string: str, project: str, timeout: float) -> None:
        """Prepare the cluster client (no connection yet).

        ``connection_string`` lists one or more nodes (Feast's format; ``password``,
        ``username`` and ``ssl`` are understood); ``project`` suffixes every hash key;
        ``timeout`` bounds every read, slot map refreshes and redirections included.

        Raises:
            ServerConfigError: See ``parse_cluster_nodes``.
        """
        self.nodes, self.params = parse_cluster_nodes(connection_string)
        self.project = project.encode("utf-8")
        self.timeout = timeout
        self._client: Any = None
        self._fields: dict[tuple[str, tuple[str, ...]], list[bytes]] = {}

    def _cluster(self) -> Any:
        if self._client is None:
            from redis.asyncio.cluster import ClusterNode, RedisCluster
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            params = self.params
            self._client = RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in self.nodes],
                require_full_coverage=False,
                password=None if params.get("password") is None else str(params["password"]),
                username=None if params.get("username") is None else str(params["username"]),
                ssl=str(params.get("ssl", "false")).lower() in ("true", "1", "yes"),
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                # One attempt: the request's own deadline decides, the next request retries.
                retry=Retry(NoBackoff(), 0),
                cluster_error_retry_attempts=1,
            )
        return self._client

    def _field_list(self, view: ViewSpec, features: tuple[str, ...]) -> list[bytes]:
        cache_key = (view.redis_name, features)
        found = self._fields.get(cache_key)
        if found is None:
            from feast.infra.online_stores.helpers import _mmh3

            found = [_mmh3(f"{view.redis_name}:{f}") for f in features]
            found.append(f"_ts:{view.redis_name}".encode())
            self._fields[cache_key] = found
        return found

    async def _pipeline(self, queries: Sequence[ViewQuery]) -> list[Any]:
        client = self._cluster()
        pipe = client.pipeline(transaction=False)
        project = self.project
        for q in queries:
            fields = self._field_list(q.view, q.features)
            for key in q.keys:
                pipe.hmget(key + project, fields)
        return list(await pipe.execute(raise_on_error=True))

    async def read(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """HMGET every key of every view: one pipeline per node holding a key, concurrently."""
        if not any(q.keys for q in queries):
            return [[] for _ in queries]
        try:
            async with asyncio.timeout(self.timeout):
                replies = await self._pipeline(queries)
        except _failures() as exc:
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
        """PING every master within the timeout; unavailable only when none answers.

        A partial outage fails only the requests with a key on the missing master, so the
        server stays ready (taking every replica out of rotation would fail every request).
        """
        try:
            async with asyncio.timeout(self.timeout):
                client = self._cluster()
                await client.initialize()
                masters = client.get_primaries()
                answers = await asyncio.gather(
                    *(client.execute_command("PING", target_nodes=m) for m in masters),
                    return_exceptions=True,
                )
        except _failures() as exc:
            raise unavailable(self.kind, exc) from exc
        failures = [a for a in answers if isinstance(a, BaseException)]
        if not masters or len(failures) == len(answers):
            first = failures[0] if failures else ConnectionError("no master known")
            raise unavailable(self.kind, first)

    async def probe(self, views: Sequence[ViewSpec]) -> None:
        """PING the masters (see ``ping``): Feast's Redis layout has no per-view table."""
        await self.ping()

    async def close(self) -> None:
        """Close every node connection (a later read connects again)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
