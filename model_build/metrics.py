"""Moved to :mod:`foundation.metrics` (the metric registry); kept only while callers switch."""

from foundation.metrics import (
    ALIASES,
    HEADLINE,
    METRICS,
    TASKS,
    Direction,
    MetricSpec,
    check_metric,
    describe_direction,
    direction,
    format_metric,
    is_better,
    lower_is_better,
    metric_spec,
    metrics_for,
)

__all__ = [
    "ALIASES", "HEADLINE", "METRICS", "TASKS", "Direction", "MetricSpec", "check_metric",
    "describe_direction", "direction", "format_metric", "is_better", "lower_is_better",
    "metric_spec", "metrics_for",
]  # fmt: skip
