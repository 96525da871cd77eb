"""Online freshness per feature view: how old the newest served value is, next to the TTL.

Exported on ``/metrics`` as

* ``slipway_feature_view_freshness_seconds{view,source}``: seconds since the newest event
  timestamp of the view's online values (computed at scrape time from the cached newest
  timestamp, so it grows between refreshes as it should);
* ``slipway_feature_view_ttl_seconds{view}``: the view's TTL (views without one are left out).

``source`` says where the newest timestamp comes from: ``store`` (read from the online store:
SQLite's ``MAX(event_ts)`` per table, so pushes count too) or ``materialization`` (the end of
the view's last materialization interval in the registry: stores without a cheap "newest"
query, such as Redis, Redis Cluster and DynamoDB). A view with neither is left out.

The newest timestamps are refreshed by a background task at most every
``freshness_refresh_seconds`` (store queries in a worker thread), never on the request path;
a failed refresh keeps the previous values and is logged once per failure streak.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, Final, Protocol

from prometheus_client.core import GaugeMetricFamily

from services.feature_server.errors import StoreUnavailableError
from services.feature_server.registry import RegistryWatcher, ViewSpec

logger = logging.getLogger(__name__)

FRESHNESS: Final = "slipway_feature_view_freshness_seconds"
TTL: Final = "slipway_feature_view_ttl_seconds"


class NewestReader(Protocol):
    """A reader that can tell the newest event timestamp of each view cheaply."""

    async def newest_event(self, views: Sequence[ViewSpec]) -> dict[str, float]:
        """Epoch seconds of the newest value per view name (views without values left out)."""
        ...


class Freshness:
    """The cached newest timestamp and TTL of every view, and their Prometheus collector."""

    def __init__(self) -> None:
        """Start empty: nothing is exported until the first refresh."""
        self.newest: dict[str, tuple[float, str]] = {}
        self.ttl: dict[str, float] = {}
        self.refreshed: float | None = None
        self._failing = False

    async def refresh(self, views: Sequence[ViewSpec], reader: Any) -> None:
        """Recompute the newest timestamp of every view (store first, registry otherwise).

        Raises:
            StoreUnavailableError: The store's newest-value query failed (values kept).
        """
        from_store: dict[str, float] = {}
        newest_event = getattr(reader, "newest_event", None)
        if newest_event is not None:
            from_store = await newest_event(views)
        newest: dict[str, tuple[float, str]] = {}
        for view in views:
            if view.name in from_store:
                newest[view.name] = (from_store[view.name], "store")
            elif view.materialized_until is not None:
                newest[view.name] = (view.materialized_until, "materialization")
        self.newest = newest
        self.ttl = {v.name: v.ttl_seconds for v in views if v.ttl_seconds is not None}
        self.refreshed = time.monotonic()

    async def run(self, watcher: RegistryWatcher, reader: Any, *, every: float) -> None:
        """Refresh from the current registry snapshot every ``every`` seconds, forever."""
        while True:
            snapshot = watcher.snapshot
            if snapshot is not None:
                try:
                    await self.refresh(list(snapshot.views.values()), reader)
                    self._failing = False
                except StoreUnavailableError as exc:
                    if not self._failing:
                        logger.warning("feature freshness not refreshed (values kept): %s", exc)
                    self._failing = True
                # A bug here must not end the loop (the gauges would freeze unnoticed).
                except Exception:
                    if not self._failing:
                        logger.exception("feature freshness refresh failed (values kept)")
                    self._failing = True
            await asyncio.sleep(every)

    def describe(self) -> list[GaugeMetricFamily]:
        """No fixed description: the families are built per scrape."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The freshness and TTL gauges as of now."""
        now = time.time()
        age = GaugeMetricFamily(
            FRESHNESS,
            "Seconds since the newest online value of the feature view (event time).",
            labels=["view", "source"],
        )
        for name, (stamp, source) in sorted(self.newest.items()):
            age.add_metric([name, source], max(0.0, now - stamp))
        yield age
        ttl = GaugeMetricFamily(TTL, "TTL of the feature view in seconds.", labels=["view"])
        for name, seconds in sorted(self.ttl.items()):
            ttl.add_metric([name], seconds)
        yield ttl
