"""Direct readers of the online stores Feast materializes into.

SQLite, Redis, Redis Cluster and DynamoDB.

Each reads exactly Feast's layout, so the service returns what ``feast materialize`` wrote:

* ``protocol``: the ``OnlineStoreReader`` protocol and its ``ViewQuery``.
* ``rows``: ``Row`` (one entity's stored data in one view), ``Partial`` and ``MISSING``.
* ``sqlite``: ``SqliteReader`` (Feast's ``<project>_<view>`` tables, optional row cache).
* ``redis``: ``RedisReader`` (Feast's one hash per entity key, one pipeline per request).
* ``redis_cluster``: ``RedisClusterReader`` (the same layout on a Redis Cluster, redis-py's
  cluster client: slot map, ``MOVED``/``ASK``, one pipeline per node).
* ``dynamodb``: ``DynamoDBReader`` (Feast's one item per entity key, ``BatchGetItem``).
* ``factory``: ``open_reader`` picks the reader for a Feast repo config.

``tests/contract/test_online_reader_contract.py`` runs one suite against every reader, with
Feast's own online store reader as the oracle.
"""

from services.feature_server.stores.dynamodb import DynamoDBReader
from services.feature_server.stores.factory import open_reader
from services.feature_server.stores.protocol import OnlineStoreReader, ViewQuery
from services.feature_server.stores.redis import RedisReader
from services.feature_server.stores.redis_cluster import RedisClusterReader
from services.feature_server.stores.rows import MISSING, Partial, Row
from services.feature_server.stores.sqlite import SqliteReader

__all__ = [
    "MISSING",
    "DynamoDBReader",
    "OnlineStoreReader",
    "Partial",
    "RedisClusterReader",
    "RedisReader",
    "Row",
    "SqliteReader",
    "ViewQuery",
    "open_reader",
]
