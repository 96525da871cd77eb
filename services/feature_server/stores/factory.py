"""Pick the online store reader for a Feast repo config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.errors import ServerConfigError
from services.feature_server.stores.dynamodb import DynamoDBReader
from services.feature_server.stores.protocol import OnlineStoreReader
from services.feature_server.stores.redis import RedisReader
from services.feature_server.stores.redis_cluster import RedisClusterReader
from services.feature_server.stores.sqlite import SqliteReader


def open_reader(config: Any, *, timeout: float, sqlite_cache_entries: int = 0) -> OnlineStoreReader:
    """The reader of a validated Feast ``RepoConfig``'s online store.

    SQLite, Redis (one node or ``redis_type: redis_cluster``) and DynamoDB are served.

    ``timeout`` is the store timeout in seconds; ``sqlite_cache_entries`` the SQLite reader's
    row cache size (0: off).

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
        if redis_type == "redis_cluster":
            return RedisClusterReader(
                connection_string=store.connection_string, project=config.project, timeout=timeout
            )
        if redis_type != "redis":
            raise ServerConfigError(
                f"online store redis_type {redis_type!r} is not served by the feature service "
                "(redis, redis_cluster)"
            )
        return RedisReader(
            connection_string=store.connection_string, project=config.project, timeout=timeout
        )
    if kind == "dynamodb" or str(kind).endswith("DynamoDBOnlineStore"):
        return DynamoDBReader(
            region=store.region,
            endpoint_url=store.endpoint_url,
            project=config.project,
            table_name_template=store.table_name_template,
            batch_size=store.batch_size,
            consistent_reads=store.consistent_reads,
            timeout=timeout,
        )
    raise ServerConfigError(
        f"online store type {kind!r} is not served by the feature service (sqlite, redis, dynamodb)"
    )
