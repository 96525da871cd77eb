"""Compare two registered versions: metric deltas and lineage changes.

Which way a metric is better comes from the metric registry (:mod:`foundation.metrics`); a
metric without a direction (residual quantiles, names the registry lacks) gets the verdict
``changed`` or ``same``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from foundation.metrics import Direction, direction, is_better
from model_build.registry.protocol import ModelVersion

#: Lineage fields shown when they differ between two versions.
LINEAGE_FIELDS = (
    "task",
    "artifact_digest",
    "git_sha",
    "data_hash",
    "feature_service",
    "features",
    "params",
    "run_id",
)

Verdict = Literal["better", "worse", "same", "changed", "only in A", "only in B"]


class MetricDelta(BaseModel):
    """One metric of a comparison of version A with version B.

    Attributes:
        name: Metric name.
        a: Value for A, if A has it.
        b: Value for B, if B has it.
        delta: ``b - a`` when both have it.
        lower_is_better: Whether a smaller value is better for this metric.
        direction: ``higher``, ``lower`` or ``none`` (from the metric registry).
        verdict: Whether B is better, worse or the same as A (``changed`` for a metric
            without a direction).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    a: float | None
    b: float | None
    delta: float | None
    lower_is_better: bool
    verdict: Verdict
    direction: Direction = "higher"


@dataclass(frozen=True)
class Comparison:
    """Version B against baseline A: per-metric deltas and the lineage fields that differ.

    Attributes:
        a: The baseline version.
        b: The candidate version.
        deltas: One entry per metric (see :func:`compare_metrics`).
        changes: Lineage fields that differ, as ``{field: (value in A, value in B)}``.
    """

    a: ModelVersion
    b: ModelVersion
    deltas: list[MetricDelta]
    changes: dict[str, tuple[Any, Any]]

    def to_json(self) -> dict[str, Any]:
        """``a`` and ``b`` (references), ``metrics`` and ``lineage_changes`` (``{a, b}`` each)."""
        return {
            "a": self.a.ref,
            "b": self.b.ref,
            "metrics": [d.model_dump(mode="json") for d in self.deltas],
            "lineage_changes": {k: {"a": x, "b": y} for k, (x, y) in self.changes.items()},
        }


def compare_versions(a: ModelVersion, b: ModelVersion) -> Comparison:
    """How version ``b`` compares with baseline ``a``: metrics and lineage."""
    return Comparison(
        a=a, b=b, deltas=compare_metrics(a.metrics, b.metrics), changes=lineage_changes(a, b)
    )


def compare_metrics(a: Mapping[str, float], b: Mapping[str, float]) -> list[MetricDelta]:
    """Metric by metric, how the candidate's metrics ``b`` compare with the baseline's ``a``.

    One entry per metric name in either, A's order first then B's extra names.
    """
    names = list(a) + [name for name in b if name not in a]
    rows = []
    for name in names:
        way = direction(name)
        lower = way == "lower"
        va, vb = a.get(name), b.get(name)
        common = {"name": name, "a": va, "b": vb, "lower_is_better": lower, "direction": way}
        if va is None or vb is None:
            verdict: Verdict = "only in A" if vb is None else "only in B"
            rows.append(MetricDelta(**common, delta=None, verdict=verdict))
            continue
        delta = vb - va
        improved = is_better(name, vb, va)
        if delta == 0:
            verdict = "same"
        elif improved is None:
            verdict = "changed"
        else:
            verdict = "better" if improved else "worse"
        rows.append(MetricDelta(**common, delta=delta, verdict=verdict))
    return rows


def lineage_changes(a: ModelVersion, b: ModelVersion) -> dict[str, tuple[Any, Any]]:
    """Lineage fields whose values differ, as ``{field: (value in A, value in B)}``."""
    return {
        name: (getattr(a, name), getattr(b, name))
        for name in LINEAGE_FIELDS
        if getattr(a, name) != getattr(b, name)
    }
