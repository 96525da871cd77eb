"""Reads Feast's DynamoDB online store directly.

Feast's layout: one table per view (``table_name_template``, ``{project}.{view}`` by
default) with one item per entity: ``entity_id`` (the hex ``mmh3`` hash of the serialized
entity key), ``event_ts`` (text) and ``values`` (a map of feature name to ``ValueProto``
bytes). Reads are ``BatchGetItem`` calls of at most ``batch_size`` distinct ids (DynamoDB
refuses repeated keys in one call; a repeated key is read once and repeated in the answer),
with only the requested features projected, and unprocessed keys asked again until the
timeout. A key without an item is not found; a feature missing from an item is ``MISSING``.

boto3 is synchronous, so every call runs in a worker thread, with the connect and read
timeouts and no retries, bounded again by the reader's timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from services.feature_server.errors import StoreUnavailableError
from services.feature_server.registry import ViewSpec
from services.feature_server.stores.protocol import ViewQuery, unavailable
from services.feature_server.stores.rows import Row
from services.feature_server.timestamps import EPOCH, format_timestamp

_STAMPS_LIMIT: Final = 100_000
_stamps: dict[str, str] = {}


def format_dynamodb_ts(text: str | None) -> str:
    """Format an ``event_ts`` attribute (``str`` of an aware datetime) like Feast's server."""
    if not text:
        return EPOCH
    found = _stamps.get(text)
    if found is None:
        moment = datetime.fromisoformat(text)
        whole = moment.replace(microsecond=0)
        found = format_timestamp(int(whole.timestamp()), moment.microsecond * 1000)
        if len(_stamps) >= _STAMPS_LIMIT:
            _stamps.clear()
        _stamps[text] = found
    return found


class DynamoDBReader:
    """Reads Feast's DynamoDB online store with batched ``BatchGetItem`` calls."""

    kind = "dynamodb"

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None,
        project: str,
        table_name_template: str = "{project}.{table_name}",
        batch_size: int = 100,
        consistent_reads: bool = False,
        timeout: float,
    ) -> None:
        """Describe the store; the client is made on first use."""
        self.region = region
        self.endpoint_url = endpoint_url or None
        self.project = project
        self.template = table_name_template
        self.batch_size = max(1, min(100, batch_size))
        self.consistent = consistent_reads
        self.timeout = timeout
        self._client: Any = None
        self._get_client()  # boto3 takes long to build a client: not on a request's clock

    def _get_client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
                retries={"total_max_attempts": 1},
                max_pool_connections=32,
            )
            session = boto3.session.Session(region_name=self.region)
            self._client = session.client("dynamodb", endpoint_url=self.endpoint_url, config=config)
        return self._client

    def table(self, view: ViewSpec) -> str:
        """The view's table name (Feast's ``table_name_template``)."""
        return self.template.format(project=self.project, table_name=view.redis_name)

    def _read_sync(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        import mmh3
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._get_client()
        deadline = time.monotonic() + self.timeout
        out: list[list[Row | None]] = []
        try:
            for q in queries:
                ids = [mmh3.hash_bytes(key).hex() for key in q.keys]
                found = self._fetch(
                    client, self.table(q.view), list(dict.fromkeys(ids)), q, deadline
                )
                out.append([found.get(i) for i in ids])
        except (BotoCoreError, ClientError, OSError) as exc:
            raise unavailable(self.kind, exc) from exc
        return out

    def _fetch(
        self, client: Any, table: str, ids: list[str], q: ViewQuery, deadline: float
    ) -> dict[str, Row]:
        names = {"#e": "entity_id", "#t": "event_ts", "#v": "values"}
        projection = ["#e", "#t"]
        for i, feature in enumerate(q.features):
            names[f"#f{i}"] = feature
            projection.append(f"#v.#f{i}")
        found: dict[str, Row] = {}
        for start in range(0, len(ids), self.batch_size):
            pending: dict[str, Any] = {
                table: {
                    "Keys": [{"entity_id": {"S": i}} for i in ids[start : start + self.batch_size]],
                    "ConsistentRead": self.consistent,
                    "ProjectionExpression": ", ".join(projection),
                    "ExpressionAttributeNames": names,
                }
            }
            while True:
                reply = client.batch_get_item(RequestItems=pending)
                for item in reply.get("Responses", {}).get(table, []):
                    values = item.get("values", {}).get("M", {})
                    raw = {name: cell.get("B") for name, cell in values.items()}
                    stamp = format_dynamodb_ts(item.get("event_ts", {}).get("S"))
                    found[item["entity_id"]["S"]] = Row(stamp, raw)
                pending = reply.get("UnprocessedKeys") or {}
                if not pending:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("dynamodb: unprocessed keys past the timeout")
        return found

    async def read(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """Read every query in one worker thread, within the timeout."""
        try:
            async with asyncio.timeout(self.timeout * 2):
                return await asyncio.to_thread(self._read_sync, queries)
        except TimeoutError as exc:
            raise unavailable(self.kind, exc) from exc

    async def ping(self) -> None:
        """List one table name within the timeout."""
        await self._call(lambda c: c.list_tables(Limit=1))

    async def probe(self, views: Sequence[ViewSpec]) -> None:
        """Describe every view's table; a missing one names its view."""
        from botocore.exceptions import ClientError

        def describe(client: Any) -> None:
            for view in views:
                try:
                    client.describe_table(TableName=self.table(view))
                except ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code", "")
                    if code != "ResourceNotFoundException":
                        raise
                    raise StoreUnavailableError(
                        f"dynamodb: no table for feature view {view.name!r} (not applied?)"
                    ) from exc

        await self._call(describe)

    async def _call(self, work: Any) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            async with asyncio.timeout(self.timeout * 2):
                await asyncio.to_thread(lambda: work(self._get_client()))
        except (BotoCoreError, ClientError, OSError, TimeoutError) as exc:
            raise unavailable(self.kind, exc) from exc

    async def close(self) -> None:
        """Drop the client (its connection pool closes with it)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
