"""The protocol every online store reader follows, and the query it answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.feature_server.errors import StoreUnavailableError
from services.feature_server.registry import ViewSpec
from services.feature_server.stores.rows import Row


@dataclass(frozen=True, slots=True)
class ViewQuery:
    """Read these features of one view for these serialized entity keys (repeats allowed)."""

    view: ViewSpec
    features: tuple[str, ...]
    keys: list[bytes]


class OnlineStoreReader(Protocol):
    """Reads Feast's online store directly.

    Attributes:
        kind: The store type (``sqlite``, ``redis``), the ``store`` label of the metrics.
    """

    kind: str

    async def read(self, queries: Sequence[ViewQuery]) -> list[list[Row | None]]:
        """Read every query: one result list per query, one entry per key, in order.

        An entry is what Feast's own reader of that store finds for the key: None when the
        store holds nothing for it (SQLite), a ``Row`` otherwise (Redis also answers a key
        without its hash with a row of nulls, as Feast does).

        Raises:
            StoreUnavailableError: The store did not answer within the reader's timeout.
        """
        ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailableError`` unless the store answers."""
        ...

    async def probe(self, views: Sequence[ViewSpec]) -> None:
        """Raise ``StoreUnavailableError`` unless the store answers with data for every view.

        The readiness check: the store answers and holds the table of every view (SQLite,
        DynamoDB); a store without tables per view (Redis) only has to answer.
        """
        ...

    async def close(self) -> None:
        """Release connections (a later read opens them again)."""
        ...


def unavailable(kind: str, exc: BaseException) -> StoreUnavailableError:
    """The error for a failed store call.

    It names the store and the failure's class only: library text may carry hosts or paths.
    """
    return StoreUnavailableError(f"{kind}: {type(exc).__name__}")
