"""Drift settings: which Evidently methods and thresholds :mod:`model_monitor.drift` uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from model_monitor.errors import MonitorConfigError

AUTO: Final = "auto"
P_VALUE_METHODS: Final = frozenset(
    {
        "ks",
        "chisquare",
        "z",
        "t_test",
        "mannw",
        "anderson",
        "fisher_exact",
        "cramer_von_mises",
        "g_test",
        "es",
        "empirical_mmd",
        "TVD",
    }
)
DISTANCE_METHODS: Final = frozenset(
    {"wasserstein", "jensenshannon", "psi", "kl_div", "hellinger", "ed"}
)
_NUMERIC_ONLY: Final = frozenset(
    {
        "ks",
        "wasserstein",
        "t_test",
        "mannw",
        "anderson",
        "cramer_von_mises",
        "es",
        "empirical_mmd",
        "ed",
    }
)


@dataclass(frozen=True)
class DriftConfig:
    """How drift is tested (see the module docs for the defaults and the reasons).

    Attributes:
        num_test: P-value method for numeric columns (``"auto"``, a method id, or None: off).
        cat_test: P-value method for categorical columns.
        num_distance: Distance method for numeric columns.
        cat_distance: Distance method for categorical columns.
        num_threshold: Distance threshold for numbers (None: the constraints' value).
        cat_threshold: Distance threshold for categories (None: the constraints' value).
        alpha: Family-wise false-alarm rate of the p-value tests of one run.
        bonferroni: Divide ``alpha`` by the number of columns tested.
        per_column_test: Column name to p-value method (or None: off) overrides.
        per_column_distance: Column name to distance method (or None: off) overrides.
        per_column_threshold: Column name to distance threshold overrides.
        max_current_rows: The window is sampled down to this many rows.
        min_rows: Columns with fewer values present (in either sample) are not tested.
        columns: Columns to test (None: every baseline column, features and predictions).
        seed: Seed of the window sample.
    """

    num_test: str | None = AUTO
    cat_test: str | None = AUTO
    num_distance: str | None = AUTO
    cat_distance: str | None = AUTO
    num_threshold: float | None = None
    cat_threshold: float | None = None
    alpha: float = 0.05
    bonferroni: bool = True
    per_column_test: Mapping[str, str | None] = field(default_factory=dict)
    per_column_distance: Mapping[str, str | None] = field(default_factory=dict)
    per_column_threshold: Mapping[str, float] = field(default_factory=dict)
    max_current_rows: int = 100_000
    min_rows: int = 30
    columns: tuple[str, ...] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        tests = (self.num_test, self.cat_test, *self.per_column_test.values())
        for method in tests:
            if method not in (None, AUTO) and method not in P_VALUE_METHODS:
                raise MonitorConfigError(
                    f"{method!r} is not a p-value drift method; known: "
                    f"{', '.join(sorted(P_VALUE_METHODS))}"
                )
        distances = (self.num_distance, self.cat_distance, *self.per_column_distance.values())
        for method in distances:
            if method not in (None, AUTO) and method not in DISTANCE_METHODS:
                raise MonitorConfigError(
                    f"{method!r} is not a distance drift method; known: "
                    f"{', '.join(sorted(DISTANCE_METHODS))}"
                )
        for method in (self.cat_test, self.cat_distance):
            if method in _NUMERIC_ONLY:
                raise MonitorConfigError(f"drift method {method!r} only applies to numbers")
        thresholds = (self.num_threshold, self.cat_threshold, *self.per_column_threshold.values())
        if any(t is not None and not t > 0 for t in thresholds):
            raise MonitorConfigError("drift distance thresholds must be positive")
        if not 0 < self.alpha < 1:
            raise MonitorConfigError(f"drift alpha must be between 0 and 1, got {self.alpha}")
        if min(self.max_current_rows, self.min_rows) < 1:
            raise MonitorConfigError("drift row limits must be at least 1")
