"""The manifest's ``monitoring:`` block: how ``slipway monitor`` checks this deployment.

Every field is optional and defaults to the monitoring library's own defaults
(:class:`model_monitor.report.MonitorConfig`, :class:`model_monitor.drift_config.DriftConfig`;
the reasons are in docs/monitoring.md), so a manifest without the block monitors with them::

    monitoring:
      window: 24h                  # the default window of a run
      completeness_tolerance: 0.01
      quality_tolerance: 0.05
      per_metric_tolerance: {roc_auc: 0.02}
      min_labels: 30
      reference_rows: 5000         # at most this many baseline reference rows (null: all)
      evidently_html: true
      stale_features: warn         # or violation
      drift:
        alpha: 0.05
        bonferroni: true
        max_window_rows: 100000
        min_rows: 30
        numeric:     {test: auto, distance: auto, threshold: null}
        categorical: {test: auto, distance: auto, threshold: null}
        per_feature:
          conv_rate: {test: ks, distance: psi, threshold: 0.2}

Method names are Evidently's (the library's ``P_VALUE_METHODS`` and ``DISTANCE_METHODS``;
a test keeps the lists here equal to them); ``null`` turns a criterion off (not both). The
categorical lists leave out the numbers-only methods. A wrong name fails when the manifest
loads, naming file, field and line. :func:`monitor_config` turns the block into the library's
settings; :func:`monitoring_window`, :func:`reference_rows` and :func:`limit_reference` give
the rest to the CLI, and :func:`unknown_columns` says which ``per_feature`` names a baseline
does not have (the manifest cannot know the model's columns when it loads).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from foundation.metrics import metric_spec
from foundation.times import parse_duration

if TYPE_CHECKING:
    from model_deploy.manifest.model import Manifest
    from model_monitor.baseline import Baseline
    from model_monitor.report import MonitorConfig

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

NumericTest = Literal[
    "auto", "ks", "chisquare", "z", "t_test", "mannw", "anderson", "fisher_exact",
    "cramer_von_mises", "g_test", "es", "empirical_mmd", "TVD",
]  # fmt: skip
"""P-value methods (Evidently's ids) for numeric columns; ``auto``: Evidently's rule."""
CategoricalTest = Literal["auto", "chisquare", "z", "fisher_exact", "g_test", "TVD"]
"""P-value methods that apply to categories."""
NumericDistance = Literal[
    "auto", "wasserstein", "jensenshannon", "psi", "kl_div", "hellinger", "ed"
]
"""Distance methods for numeric columns."""
CategoricalDistance = Literal["auto", "jensenshannon", "psi", "kl_div", "hellinger"]
"""Distance methods that apply to categories."""
Threshold = Annotated[float, Field(gt=0)]


def _not_both_off(test: str | None, distance: str | None) -> None:
    if test is None and distance is None:
        raise ValueError("test and distance cannot both be off (null): drift needs one")


class NumericDrift(BaseModel):
    """Drift criteria of numeric columns.

    Attributes:
        test: P-value method (None: off).
        distance: Distance method (None: off).
        threshold: Distance at or above which a column drifts (None: the constraints'
            ``comparison_threshold``, 0.1).
    """

    model_config = _STRICT

    test: NumericTest | None = "auto"
    distance: NumericDistance | None = "auto"
    threshold: Threshold | None = None

    @model_validator(mode="after")
    def _one_criterion(self) -> Self:
        _not_both_off(self.test, self.distance)
        return self


class CategoricalDrift(BaseModel):
    """Drift criteria of categorical columns (and numbers with few distinct values).

    Attributes:
        test: P-value method (None: off).
        distance: Distance method (None: off).
        threshold: Distance threshold (None: the constraints'
            ``categorical_comparison_threshold``, 0.1).
    """

    model_config = _STRICT

    test: CategoricalTest | None = "auto"
    distance: CategoricalDistance | None = "auto"
    threshold: Threshold | None = None

    @model_validator(mode="after")
    def _one_criterion(self) -> Self:
        _not_both_off(self.test, self.distance)
        return self


class FeatureDrift(BaseModel):
    """Overrides for one column; a key left out is not overridden, ``null`` turns it off.

    Attributes:
        test: P-value method for this column (None: off).
        distance: Distance method for this column (None: off).
        threshold: Distance threshold for this column.
    """

    model_config = _STRICT

    test: NumericTest | None = "auto"
    distance: NumericDistance | None = "auto"
    threshold: Threshold | None = None

    @model_validator(mode="after")
    def _something_set(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of test, distance, threshold")
        if {"test", "distance"} <= self.model_fields_set:
            _not_both_off(self.test, self.distance)
        if "threshold" in self.model_fields_set and self.threshold is None:
            raise ValueError("threshold must be a positive number (leave it out for the default)")
        return self


class DriftSettings(BaseModel):
    """How distribution drift is tested (:class:`model_monitor.drift_config.DriftConfig`).

    Attributes:
        alpha: Family-wise false-alarm rate of one run's p-value tests.
        bonferroni: Divide ``alpha`` by the number of columns tested.
        max_window_rows: The window is sampled down to this many rows for the tests.
        min_rows: Columns with fewer values present are not tested (a warning says so).
        numeric: Criteria of numeric columns.
        categorical: Criteria of categorical columns.
        per_feature: Per-column overrides (features, ``prediction``, ``predicted_label``).
    """

    model_config = _STRICT

    alpha: float = Field(default=0.05, gt=0, lt=1)
    bonferroni: bool = True
    max_window_rows: int = Field(default=100_000, ge=1)
    min_rows: int = Field(default=30, ge=1)
    numeric: NumericDrift = NumericDrift()
    categorical: CategoricalDrift = CategoricalDrift()
    per_feature: dict[Annotated[str, Field(min_length=1, max_length=256)], FeatureDrift] = Field(
        default_factory=dict
    )


class Monitoring(BaseModel):
    """The ``monitoring:`` block (every field optional; see the module docs).

    Attributes:
        window: Default length of a monitoring run's window (``90s``, ``15m``, ``24h``, ``7d``).
        completeness_tolerance: Smallest completeness drop that is a violation.
        quality_tolerance: Largest absolute drop of a quality metric that is not a violation.
        per_metric_tolerance: Overrides of ``quality_tolerance`` by metric name.
        min_labels: Fewer labelled rows than this: metrics are reported, not compared.
        reference_rows: Largest baseline reference sample a run uses (None: all of it).
        evidently_html: Also write Evidently's drift report (``drift.html``, a few MB).
        stale_features: Stale online feature views are a ``warn``ing or a ``violation``.
        drift: Distribution drift methods and thresholds.
    """

    model_config = _STRICT

    window: str = "24h"
    completeness_tolerance: float = Field(default=0.01, ge=0, le=1)
    quality_tolerance: float = Field(default=0.05, ge=0)
    per_metric_tolerance: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    min_labels: int = Field(default=30, ge=1)
    reference_rows: int | None = Field(default=None, ge=1)
    evidently_html: bool = True
    stale_features: Literal["warn", "violation"] = "warn"
    drift: DriftSettings = DriftSettings()

    @field_validator("window")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value, option="window") <= timedelta(0):
            raise ValueError(f"window must be longer than zero, got {value!r}")
        return value

    @field_validator("per_metric_tolerance")
    @classmethod
    def _known_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(name for name in value if metric_spec(name) is None)
        if unknown:
            raise ValueError(f"unknown metric(s): {', '.join(unknown)}")
        return value


DEFAULT_MONITORING = Monitoring()
"""The block a manifest without ``monitoring:`` has."""


def monitor_config(manifest: Manifest) -> MonitorConfig:
    """The monitoring library's settings from the manifest's ``monitoring:`` block.

    Raises:
        MonitorConfigError: The library refuses a combination the manifest schema allows
            (cannot happen for a loaded manifest; kept as the library's own check).
    """
    from model_monitor.drift_config import DriftConfig
    from model_monitor.report import MonitorConfig

    block = manifest.monitoring
    drift = block.drift
    features = drift.per_feature
    return MonitorConfig(
        drift=DriftConfig(
            num_test=drift.numeric.test,
            cat_test=drift.categorical.test,
            num_distance=drift.numeric.distance,
            cat_distance=drift.categorical.distance,
            num_threshold=drift.numeric.threshold,
            cat_threshold=drift.categorical.threshold,
            alpha=drift.alpha,
            bonferroni=drift.bonferroni,
            per_column_test={
                k: v.test for k, v in features.items() if "test" in v.model_fields_set
            },
            per_column_distance={
                k: v.distance for k, v in features.items() if "distance" in v.model_fields_set
            },
            per_column_threshold={
                k: v.threshold for k, v in features.items() if v.threshold is not None
            },
            max_current_rows=drift.max_window_rows,
            min_rows=drift.min_rows,
        ),
        completeness_tolerance=block.completeness_tolerance,
        quality_tolerance=block.quality_tolerance,
        per_metric_tolerance=dict(block.per_metric_tolerance),
        min_labels=block.min_labels,
        evidently_html=block.evidently_html,
    )


def monitoring_window(manifest: Manifest) -> timedelta:
    """The default window of a monitoring run (``monitoring.window``, 24 hours by default)."""
    return parse_duration(manifest.monitoring.window, option="monitoring.window")


def reference_rows(manifest: Manifest) -> int | None:
    """The largest baseline reference sample a run uses (None: the baseline's whole sample)."""
    return manifest.monitoring.reference_rows


def limit_reference(baseline: Baseline, *, rows: int | None, seed: int = 0) -> Baseline:
    """``baseline`` with at most ``rows`` reference rows (a seeded sample, in the stored order).

    ``rows`` None, or a reference already that small, gives ``baseline`` itself. The
    statistics and constraints are unchanged (they describe the whole training set).
    """
    if rows is None or len(baseline.reference) <= rows:
        return baseline
    import numpy as np

    picked = np.sort(
        np.random.default_rng(seed).choice(len(baseline.reference), rows, replace=False)
    )
    sample = baseline.reference.iloc[picked].reset_index(drop=True)
    return dataclasses.replace(baseline, reference=sample)


def unknown_columns(manifest: Manifest, *, columns: Iterable[str]) -> list[str]:
    """The ``monitoring.drift.per_feature`` names that are not among ``columns``, sorted.

    ``columns`` are the baseline's (``baseline.schema.columns`` names: features, then
    ``prediction`` and ``predicted_label``); an override of a column the baseline does not have
    never applies, so the caller should warn about each name returned.
    """
    known = set(columns)
    return sorted(name for name in manifest.monitoring.drift.per_feature if name not in known)
