"""Distribution drift of features and predictions, computed with Evidently 0.7's drift methods.

:func:`detect_drift` compares a captured window with the baseline's reference sample column by
column (features, the score, the predicted class) and returns a :class:`DriftResult`; its
drifted columns become ``baseline_drift_check`` violations. The scores and verdicts are
Evidently's: each criterion is one of Evidently's registered drift methods (``ks``,
``wasserstein``, ``jensenshannon``...), called the way its ``ValueDrift`` metric calls it
(missing and infinite values dropped). :mod:`model_monitor.evidently_report` renders the same
tests as an Evidently ``Report`` of ``ValueDrift`` metrics (its plots cost about 0.1 s per
column, which is why verdicts do not go through it).

Defaults (:class:`DriftConfig`), and why:

* **Two criteria per column**: a p-value test says whether the window differs from the
  reference at all; a distance says by how much. A column drifts when **both** say so: the
  p-value is below ``alpha`` (0.05) divided by the number of columns tested (Bonferroni) and
  the distance is at or above its threshold. On small windows a p-value is the reliable
  signal (a distance is noisy: at 500 rows the normed Wasserstein distance of an unchanged
  feature often exceeds 0.1), on large windows the distance is (a p-value flags moves too
  small to matter), and Evidently itself picks a p-value test for small data and a distance
  for large data; requiring both gives each its job at every size.
* **Methods** (``"auto"``, Evidently's rule): numbers with more than 5 distinct values: K-S
  and the normed Wasserstein distance; other numbers and categories: chi-square (more than 2
  values) or the z-test, and the Jensen-Shannon distance. Any registered Evidently method
  can be named instead, per kind or per column; ``None`` turns a criterion off.
* **Thresholds**: distances drift at or above the constraints' ``comparison_threshold``
  (numbers) or ``categorical_comparison_threshold`` (categories), both 0.1 by default, which
  are Evidently's defaults for Wasserstein and Jensen-Shannon (0.1 Wasserstein is a move of a
  tenth of the reference's standard deviation).
* **Decision rule (multiple comparisons)**: the run reports drift when any column drifts.
  Because every drifted column needs a Bonferroni-significant p-value, the chance that a
  window drawn from the training distribution raises an alarm is at most ``alpha`` per run,
  whatever the number of columns; the distance requirement makes it smaller still (measured
  in docs/monitoring.md).
* **Bounds**: the reference is the baseline's sample (at most 5,000 rows) and the window is
  sampled down to ``max_current_rows`` (100,000), seeded, so a run costs about the same
  whatever the window size. Columns with fewer than ``min_rows`` values are not tested (a
  warning says so).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model_monitor.columns import ColumnSpec, Schema
from model_monitor.drift_config import AUTO, P_VALUE_METHODS, DriftConfig
from model_monitor.errors import MonitorConfigError
from model_monitor.statistics import numbers

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Criterion:
    """One drift criterion of one column: an Evidently method, its score and verdict."""

    method: str
    score: float
    threshold: float
    met: bool

    @property
    def kind(self) -> str:
        """``p_value`` (met below the threshold) or ``distance`` (met at or above it)."""
        return "p_value" if self.method in P_VALUE_METHODS else "distance"

    def to_json(self) -> dict[str, Any]:
        """The criterion as a JSON object."""
        return {
            "method": self.method,
            "kind": self.kind,
            "score": self.score,
            "threshold": self.threshold,
            "met": self.met,
        }


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift test: its criteria (a p-value test, a distance, or both)."""

    column: str
    criteria: tuple[Criterion, ...]
    prediction: bool = False

    @property
    def drifted(self) -> bool:
        """Whether every criterion is met."""
        return bool(self.criteria) and all(c.met for c in self.criteria)

    @property
    def distance(self) -> Criterion | None:
        """The distance criterion, if tested."""
        return next((c for c in self.criteria if c.kind == "distance"), None)

    @property
    def p_value(self) -> Criterion | None:
        """The p-value criterion, if tested."""
        return next((c for c in self.criteria if c.kind == "p_value"), None)

    def describe(self) -> str:
        """The violation text; ends like Model Monitor's ``distance: X exceeds threshold: Y``."""
        parts = []
        test, distance = self.p_value, self.distance
        if test is not None:
            parts.append(
                f"Evidently {test.method} p-value: {test.score:.6g} is below {test.threshold:.6g}"
            )
        if distance is not None:
            parts.append(
                f"Evidently {distance.method} baseline drift distance: {distance.score:.6g} "
                f"exceeds threshold: {distance.threshold:.6g}"
            )
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The column's test as a JSON object."""
        return {
            "column": self.column,
            "drifted": self.drifted,
            "prediction": self.prediction,
            "criteria": [c.to_json() for c in self.criteria],
        }


@dataclass(frozen=True)
class DriftResult:
    """Every column's drift test and the run's verdict."""

    columns: tuple[ColumnDrift, ...]
    current_rows: int
    reference_rows: int
    warnings: tuple[str, ...] = ()

    @property
    def drifted(self) -> tuple[ColumnDrift, ...]:
        """The columns that drifted."""
        return tuple(c for c in self.columns if c.drifted)

    @property
    def detected(self) -> bool:
        """Whether the run reports drift (any column drifted)."""
        return any(c.drifted for c in self.columns)

    def column(self, name: str) -> ColumnDrift | None:
        """The test of column ``name``, if it was tested."""
        return next((c for c in self.columns if c.column == name), None)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return {
            "detected": self.detected,
            "drifted_columns": [c.column for c in self.drifted],
            "current_rows": self.current_rows,
            "reference_rows": self.reference_rows,
            "columns": [c.to_json() for c in self.columns],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Plan:
    """What to run for one column."""

    spec: ColumnSpec
    current: pd.Series
    reference: pd.Series
    test: str | None
    distance: str | None
    distance_threshold: float


def detect_drift(
    current: pd.DataFrame,
    *,
    reference: pd.DataFrame,
    schema: Schema,
    config: DriftConfig | None = None,
    num_distance_threshold: float = 0.1,
    cat_distance_threshold: float = 0.1,
) -> DriftResult:
    """Test each column of ``current`` against ``reference`` with Evidently's drift methods.

    ``num_distance_threshold`` / ``cat_distance_threshold`` are the distance thresholds used
    where the config sets none (the constraints' comparison thresholds).

    Raises:
        MonitorConfigError: The config names a column the baseline does not have, or turns
            both criteria off for a column.
    """
    settings = config or DriftConfig()
    current = bounded_window(current, settings)
    plans, warnings = _plans(
        current,
        reference,
        schema,
        settings,
        num_distance=num_distance_threshold,
        cat_distance=cat_distance_threshold,
    )
    tested = sum(1 for p in plans if p.test is not None)
    alpha = settings.alpha / tested if settings.bonferroni and tested > 1 else settings.alpha
    results = []
    for plan in plans:
        criteria = []
        if plan.test is not None:
            criteria.append(_criterion(plan, plan.test, alpha))
        if plan.distance is not None:
            criteria.append(_criterion(plan, plan.distance, plan.distance_threshold))
        results.append(ColumnDrift(plan.spec.name, tuple(criteria), plan.spec.prediction))
    return DriftResult(tuple(results), len(current), len(reference), tuple(warnings))


def bounded_window(current: pd.DataFrame, settings: DriftConfig) -> pd.DataFrame:
    """The window, sampled down to ``max_current_rows`` (seeded, so always the same rows)."""
    import numpy as np

    if len(current) <= settings.max_current_rows:
        return current
    rng = np.random.default_rng(settings.seed)
    picked = np.sort(rng.choice(len(current), settings.max_current_rows, replace=False))
    return current.iloc[picked]


def _plans(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    schema: Schema,
    settings: DriftConfig,
    *,
    num_distance: float,
    cat_distance: float,
) -> tuple[list[_Plan], list[str]]:
    """Pick methods and thresholds for every column that can be tested; say why others cannot."""
    import pandas as pd

    plans: list[_Plan] = []
    warnings: list[str] = []
    for name in settings.columns if settings.columns is not None else schema.names:
        try:
            spec = schema.column(name)
        except KeyError:
            raise MonitorConfigError(f"drift column {name!r} is not in the baseline") from None
        if name not in current.columns or name not in reference.columns:
            warnings.append(f"drift of {name} not tested: the column is missing")
            continue
        cur, ref = _prepared(current[name], spec), _prepared(reference[name], spec)
        present = min(len(cur), len(ref))
        if present < settings.min_rows:
            warnings.append(
                f"drift of {name} not tested: {present} values present, "
                f"fewer than {settings.min_rows}"
            )
            continue
        distinct = int(pd.concat([cur, ref]).nunique())
        numeric = not spec.categorical and distinct > 5
        test = settings.per_column_test.get(
            name, settings.cat_test if spec.categorical else settings.num_test
        )
        distance = settings.per_column_distance.get(
            name, settings.cat_distance if spec.categorical else settings.num_distance
        )
        if test == AUTO:
            test = "ks" if numeric else ("chisquare" if distinct > 2 else "z")
        if distance == AUTO:
            distance = "wasserstein" if numeric else "jensenshannon"
        if test is None and distance is None:
            raise MonitorConfigError(f"drift of {name}: both the test and the distance are off")
        threshold = settings.per_column_threshold.get(
            name, settings.cat_threshold if spec.categorical else settings.num_threshold
        )
        if threshold is None:
            threshold = cat_distance if spec.categorical else num_distance
        plans.append(_Plan(spec, cur, ref, test, distance, threshold))
    return plans, warnings


def _prepared(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Present values only: numbers as float64; categories as text (whole numbers without .0)."""
    import numpy as np
    import pandas as pd

    if not spec.categorical:
        floats = numbers(values)
        return pd.Series(floats[np.isfinite(floats)], dtype="float64")

    return category_texts(values)


def category_texts(values: pd.Series) -> pd.Series:
    """:func:`category_text` of every present value, vectorized for text, int, bool and float.

    Called on the whole reference sample (up to 5,000 rows) for every categorical column on
    every run, so the per-value Python loop is kept for other values only. Same texts, in the
    same order, as ``[category_text(v) for v in values.dropna()]``.
    """
    import numpy as np
    import pandas as pd

    present = values.dropna()
    kind = present.dtype.kind
    if kind == "O" and pd.api.types.infer_dtype(present, skipna=False) == "string":
        return pd.Series(present.to_numpy(dtype=object), dtype=object)
    if kind in "iub":
        return pd.Series(present.to_numpy().astype(str).astype(object), dtype=object)
    if kind == "f":
        floats = present.to_numpy(dtype=np.float64)
        whole = np.isfinite(floats) & (np.floor(floats) == floats) & (np.abs(floats) < 2.0**53)
        text = floats.astype(str).astype(object)
        text[whole] = floats[whole].astype(np.int64).astype(str)
        for index in np.flatnonzero(~whole & np.isfinite(floats) & (np.floor(floats) == floats)):
            text[index] = category_text(float(floats[index]))  # beyond 2**53: Python's int
        return pd.Series(text, dtype=object)
    return pd.Series([category_text(v) for v in present], dtype=object)


def _criterion(plan: _Plan, method: str, threshold: float) -> Criterion:
    """Run one Evidently drift method on one column."""
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.core import ColumnType

    kind = ColumnType.Categorical if plan.spec.categorical else ColumnType.Numerical
    stattest = get_stattest(plan.reference, plan.current, kind, method)
    with warnings.catch_warnings():
        # chi-square divides by zero for a category the reference never saw: the p-value is 0,
        # which is the verdict wanted (and the domain check names the value)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stattest(plan.reference, plan.current, kind, threshold)
    return Criterion(method, float(result.drift_score), threshold, bool(result.drifted))


def category_text(value: Any) -> str:
    """A category as text (whole-number floats without ``.0``, so 1.0 and 1 agree)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
