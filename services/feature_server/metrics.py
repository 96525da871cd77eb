"""Prometheus metrics of the feature service.

* ``slipway_feature_server_requests_total{route,feature_service,status}``
* ``slipway_feature_server_request_seconds{route,feature_service}`` (histogram)
* ``slipway_feature_server_store_read_seconds{store}`` (histogram, one sample per request)
* ``slipway_feature_server_entity_rows`` (histogram of rows per read)
* ``slipway_feature_server_errors_total{type}``
* ``slipway_feature_server_registry_age_seconds`` (single process only)
* ``slipway_feature_view_freshness_seconds{view,source}`` and ``slipway_feature_view_ttl_seconds``
  (``services.feature_server.freshness``, per worker: every worker computes its own)

``feature_service`` is a registered service name, ``(features)`` for a raw feature list or
``(none)`` when the request failed before that was known, so cardinality stays bounded. With
several workers the runner calls ``multiprocess_metrics`` before building the app, and
``/metrics`` on any worker aggregates every worker.

Requests are tallied in plain Python (a bucket index by bisection and a few integer adds) and
moved into the Prometheus objects at most every ``FLUSH_SECONDS`` and before every scrape: the
client library's own ``observe`` costs more than serving a cached one-entity read. All tallies
are touched from the event loop thread only (``/metrics`` is an async route).
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
ROW_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
FLUSH_SECONDS: Final = 1.0
FEATURES: Final = "(features)"
NONE: Final = "(none)"
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
AGGREGATE_ENV: Final = "SLIPWAY_SERVER_METRICS_AGGREGATE"
"""Set by the runner for several workers; a stray ``PROMETHEUS_MULTIPROC_DIR`` alone (Feast's
server module sets one on import) does not switch ``/metrics`` to multiprocess collection."""


def multiprocess_metrics(directory: str) -> None:
    """Make metrics created from now on in this process (and its forks) share ``directory``.

    ``/metrics`` of every app built afterwards then aggregates the files of all processes.
    Prometheus picks its value class when it is first imported (Feast imports it early), so
    the class is chosen again here.
    """
    from prometheus_client import values

    os.environ[MULTIPROC_ENV] = directory
    os.environ[AGGREGATE_ENV] = "1"
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def single_process_metrics() -> None:
    """Undo ``multiprocess_metrics`` for metrics created from now on."""
    from prometheus_client import values

    os.environ.pop(MULTIPROC_ENV, None)
    os.environ.pop(AGGREGATE_ENV, None)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class _Tally:
    """Observations of one histogram child (and optionally one counter child) not yet flushed."""

    __slots__ = ("bounds", "calls", "counter", "counts", "histogram", "total")

    def __init__(self, histogram: Any, counter: Any = None) -> None:
        self.histogram = histogram
        self.counter = counter
        self.bounds: list[float] = list(histogram._upper_bounds)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        self.calls = 0

    def add(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.calls += 1

    def flush(self) -> None:
        """Move the tallies into the Prometheus child (same effect as one ``observe`` each)."""
        if not self.calls:
            return
        buckets = self.histogram._buckets
        for i, count in enumerate(self.counts):
            if count:
                buckets[i].inc(count)
                self.counts[i] = 0
        self.histogram._sum.inc(self.total)
        if self.counter is not None:
            self.counter.inc(self.calls)
        self.total = 0.0
        self.calls = 0


PREFIX: Final = "slipway_feature_server"


class _Ours:
    """Only this service's families of a multiprocess collection.

    The shared folder also receives the metrics Feast's server module creates on import;
    ``/metrics`` exports Slipway's families only.
    """

    def __init__(self, collector: Any) -> None:
        self._collector = collector

    def collect(self) -> Any:
        return [m for m in self._collector.collect() if m.name.startswith(PREFIX)]


class Metrics:
    """The service's metrics, on a private registry (one per app)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, *, registry_age: Callable[[], float] | None = None) -> None:
        """Create the metrics.

        ``registry_age`` gives the seconds since the last registry refresh (exported as a
        gauge when running in a single process).
        """
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV)) and bool(
            os.environ.get(AGGREGATE_ENV)
        )
        self.registry = CollectorRegistry(auto_describe=True)
        prefix = PREFIX
        self.requests = Counter(
            f"{prefix}_requests",
            "HTTP requests by route, feature service and status code.",
            ["route", "feature_service", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{prefix}_request_seconds",
            "Request latency in seconds by route and feature service.",
            ["route", "feature_service"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_read = Histogram(
            f"{prefix}_store_read_seconds",
            "Online store read latency per request (all views), seconds.",
            ["store"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Histogram(
            f"{prefix}_entity_rows",
            "Entity rows per online read.",
            buckets=ROW_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            f"{prefix}_errors",
            "Errors by type.",
            ["type"],
            registry=self.registry,
        )
        if registry_age is not None and not self.multiprocess:
            age = Gauge(
                f"{prefix}_registry_age_seconds",
                "Seconds since the registry snapshot was last refreshed.",
                registry=self.registry,
            )
            age.set_function(registry_age)
        self._extra: list[Any] = []
        self._requests: dict[tuple[str, str, int], _Tally] = {}
        self._reads: dict[str, _Tally] = {}
        self._rows = _Tally(self.rows)
        self._flushed = time.monotonic()

    def observe(self, route: str, service: str, status: int, seconds: float) -> None:
        """Count a request and record its latency."""
        key = (route, service, status)
        tally = self._requests.get(key)
        if tally is None:
            tally = self._requests[key] = _Tally(
                self.latency.labels(route, service),
                self.requests.labels(route, service, str(status)),
            )
        tally.add(seconds)
        if time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()

    def observe_read(self, store: str, seconds: float, rows: int) -> None:
        """Record one online store read (all views of a request) and its entity rows."""
        tally = self._reads.get(store)
        if tally is None:
            tally = self._reads[store] = _Tally(self.store_read.labels(store))
        tally.add(seconds)
        self._rows.add(rows)

    def flush(self) -> None:
        """Move every pending tally into the Prometheus objects."""
        self._flushed = time.monotonic()
        for tally in self._requests.values():
            tally.flush()
        for tally in self._reads.values():
            tally.flush()
        self._rows.flush()

    def add_collector(self, collector: Any) -> None:
        """Export a collector of this worker's own gauges (also in multiprocess mode)."""
        self._extra.append(collector)
        self.registry.register(collector)

    def error(self, kind: str) -> None:
        """Count an error of a kind (an error code, ``store_unavailable``, ``internal``...)."""
        self.errors.labels(kind).inc()

    def render(self) -> bytes:
        """Render the exposition text (aggregating workers in multiprocess mode)."""
        self.flush()
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            registry.register(_Ours(multiprocess.MultiProcessCollector(None)))  # type: ignore[no-untyped-call]
            for collector in self._extra:
                registry.register(collector)
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))
