"""Bake checks on the local router's per-backend counters: error rate and p99 latency.

The router counts, per backend, the requests it forwarded, the failed ones (a 5xx answer or no
answer) and a latency histogram. A bake takes a snapshot when the new backend first gets
traffic and compares every later snapshot with it: once the new backend served
``min_requests`` requests, its error rate and 99th percentile latency must stay within the
manifest's ``bake`` limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from model_deploy.manifest.checks import BakeChecks


@dataclass(frozen=True)
class Counters:
    """One backend's counters at one moment.

    Attributes:
        requests: Requests forwarded to it.
        errors: Of those, failed ones (5xx or no answer).
        buckets: ``(upper bound in ms or inf, count)`` per latency bucket.
    """

    requests: int = 0
    errors: int = 0
    buckets: tuple[tuple[float, int], ...] = ()

    @classmethod
    def of(cls, status: dict[str, Any] | None, url: str) -> Counters:
        """The counters of ``url`` in a router status (zero when absent or malformed)."""
        try:
            raw = ((status or {}).get("counters") or {}).get(url)
            if not isinstance(raw, dict):
                return cls()
            buckets = tuple(
                (math.inf if bound is None else float(bound), int(count))
                for bound, count in raw.get("latency_ms") or []
            )
            return cls(int(raw.get("requests", 0)), int(raw.get("errors", 0)), buckets)
        except (TypeError, ValueError):
            return cls()

    def since(self, start: Counters) -> Counters:
        """What happened between ``start`` and this snapshot."""
        old = dict(start.buckets)
        return Counters(
            self.requests - start.requests,
            self.errors - start.errors,
            tuple((bound, count - old.get(bound, 0)) for bound, count in self.buckets),
        )

    def quantile_ms(self, q: float) -> float | None:
        """Upper bound (ms) of the bucket holding the ``q`` quantile (None without requests)."""
        total = sum(count for _, count in self.buckets)
        if total <= 0:
            return None
        rank = math.ceil(q * total)
        seen = 0
        for bound, count in self.buckets:
            seen += count
            if seen >= rank:
                return bound
        return math.inf


def bake_problem(window: Counters, checks: BakeChecks, *, what: str) -> str | None:
    """Why ``window`` (counters since the bake began) fails ``checks``, or None.

    Nothing is judged before ``min_requests`` requests; ``what`` names the backend.
    """
    if window.requests < checks.min_requests:
        return None
    rate = window.errors / window.requests
    if rate > checks.max_error_rate:
        return (
            f"{what} failed {window.errors} of {window.requests} requests ({rate:.1%}) while "
            f"baking; the manifest allows {checks.max_error_rate:.1%}"
        )
    limit = checks.max_p99_latency_ms
    p99 = window.quantile_ms(0.99)
    if limit is not None and p99 is not None and p99 > limit:
        shown = "over 10 s" if math.isinf(p99) else f"up to {p99:g} ms"
        return (
            f"{what} answered in {shown} at the 99th percentile while baking; the manifest "
            f"allows {limit:g} ms"
        )
    return None
