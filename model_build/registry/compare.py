"""Compare two registered versions: metric deltas and lineage changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from model_build.registry.protocol import ModelVersion

#: Metrics where a smaller value is better; every other metric is better when larger.
LOWER_IS_BETTER: frozenset[str] = frozenset({"log_loss", "brier", "brier_score", "ece"})
#: Lineage fields shown when they differ between two versions.
LINEAGE_FIELDS = (
    "artifact_digest",
    "git_sha",
    "data_hash",
    "feature_service",
    "features",
    "params",
    "run_id",
)

Verdict = Literal["better", "worse", "same", "only in A", "only in B"]


class MetricDelta(BaseModel):
    """One metric of a comparison of version A with version B.

    Attributes:
        name: Metric name.
        a: Value for A, if A has it.
        b: Value for B, if B has it.
        delta: ``b - a`` when both have it.
        lower_is_better: Whether a smaller value is better for this metric.
        verdict: Whether B is better, worse or the same as A.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    a: float | None
    b: float | None
    delta: float | None
    lower_is_better: bool
    verdict: Verdict


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
        lower = name in LOWER_IS_BETTER
        va, vb = a.get(name), b.get(name)
        if va is None or vb is None:
            verdict: Verdict = "only in A" if vb is None else "only in B"
            rows.append(
                MetricDelta(
                    name=name, a=va, b=vb, delta=None, lower_is_better=lower, verdict=verdict
                )
            )
            continue
        delta = vb - va
        improved = delta < 0 if lower else delta > 0
        verdict = "same" if delta == 0 else "better" if improved else "worse"
        rows.append(
            MetricDelta(name=name, a=va, b=vb, delta=delta, lower_is_better=lower, verdict=verdict)
        )
    return rows


def lineage_changes(a: ModelVersion, b: ModelVersion) -> dict[str, tuple[Any, Any]]:
    """Lineage fields whose values differ, as ``{field: (value in A, value in B)}``."""
    return {
        name: (getattr(a, name), getattr(b, name))
        for name in LINEAGE_FIELDS
        if getattr(a, name) != getattr(b, name)
    }
