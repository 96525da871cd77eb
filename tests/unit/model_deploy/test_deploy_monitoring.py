"""The manifest's ``monitoring:`` block: defaults, mapping onto the library, errors, plans.

A manifest without the block monitors with the library's defaults and keeps its hash; every
field maps onto ``MonitorConfig`` / ``DriftConfig``; a wrong method name, a numbers-only method
for categories, both criteria off, a typo or a bad window fails at load time naming file, field
and line; the method lists are the library's; a monitoring-only change is a config change.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from deploy_support import (
    FakeRegistry,
    local_manifest,
    make_deployer,
    register_version,
    write_manifest,
)
from fake_target import FakeTarget

from model_deploy.apply import run_apply
from model_deploy.errors import ManifestError
from model_deploy.manifest import parse_manifest
from model_deploy.manifest.monitoring import (
    CategoricalDistance,
    CategoricalTest,
    NumericDistance,
    NumericTest,
    limit_reference,
    monitor_config,
    monitoring_window,
    reference_rows,
    unknown_columns,
)
from model_monitor import drift_config
from model_monitor.baseline import build_baseline
from model_monitor.drift_config import DriftConfig
from model_monitor.report import MonitorConfig

SOURCE = "environments/prod/driver_ranking.yaml"
BASE = local_manifest("prod", version=1, port=9003)

FULL = """\
monitoring:
  window: 6h
  completeness_tolerance: 0.02
  quality_tolerance: 0.03
  per_metric_tolerance: {roc_auc: 0.01, log_loss: 0.1}
  min_labels: 100
  reference_rows: 2000
  evidently_html: false
  stale_features: violation
  drift:
    alpha: 0.01
    bonferroni: false
    max_window_rows: 50000
    min_rows: 50
    numeric: {test: ks, distance: psi, threshold: 0.2}
    categorical: {test: chisquare, distance: null, threshold: 0.15}
    per_feature:
      conv_rate: {test: mannw, distance: hellinger, threshold: 0.3}
      segment: {test: null}
      acc_rate: {threshold: 0.05}
"""


def _load(extra: str) -> Any:
    return parse_manifest(text=BASE + extra, source=SOURCE, expected_env="prod")


def _rejected(extra: str, field: str, *, says: str, key: str | None = None) -> None:
    text = BASE + extra
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text=text, source=SOURCE, expected_env="prod")
    issues = {issue.field: issue for issue in caught.value.issues}
    assert field in issues, str(caught.value)
    issue = issues[field]
    assert issue.line is not None
    assert f"{SOURCE}:{issue.line}: {field}" in str(caught.value)
    assert says in str(caught.value)
    if key is not None:
        assert key in text.splitlines()[issue.line - 1]


def test_no_block_is_the_library_defaults_and_keeps_the_hash() -> None:
    plain = _load("")
    assert monitor_config(plain.manifest) == MonitorConfig()
    assert monitor_config(plain.manifest).drift == DriftConfig()
    assert monitoring_window(plain.manifest) == timedelta(hours=24)
    assert reference_rows(plain.manifest) is None
    assert plain.manifest.monitoring.stale_features == "warn"
    spelled = _load("monitoring:\n  window: 24h\n  drift:\n    alpha: 0.05\n")
    assert spelled.content_hash == plain.content_hash
    changed = _load("monitoring:\n  drift:\n    alpha: 0.01\n")
    assert changed.content_hash != plain.content_hash


def test_every_field_maps_onto_the_library() -> None:
    loaded = _load(FULL)
    config = monitor_config(loaded.manifest)
    assert config == MonitorConfig(
        drift=DriftConfig(
            num_test="ks",
            cat_test="chisquare",
            num_distance="psi",
            cat_distance=None,
            num_threshold=0.2,
            cat_threshold=0.15,
            alpha=0.01,
            bonferroni=False,
            per_column_test={"conv_rate": "mannw", "segment": None},
            per_column_distance={"conv_rate": "hellinger"},
            per_column_threshold={"conv_rate": 0.3, "acc_rate": 0.05},
            max_current_rows=50_000,
            min_rows=50,
        ),
        completeness_tolerance=0.02,
        quality_tolerance=0.03,
        per_metric_tolerance={"roc_auc": 0.01, "log_loss": 0.1},
        min_labels=100,
        evidently_html=False,
    )
    assert monitoring_window(loaded.manifest) == timedelta(hours=6)
    assert reference_rows(loaded.manifest) == 2000
    assert loaded.manifest.monitoring.stale_features == "violation"
    whole = _load("monitoring:\n  quality_tolerance: 1\n")  # an integer is a number here
    assert monitor_config(whole.manifest).quality_tolerance == 1.0


def test_the_method_lists_are_the_librarys() -> None:
    def values(kind: Any) -> set[str]:
        return set(kind.__args__) - {"auto"}

    numeric_only = drift_config._NUMERIC_ONLY
    assert values(NumericTest) == set(drift_config.P_VALUE_METHODS)
    assert values(NumericDistance) == set(drift_config.DISTANCE_METHODS)
    assert values(CategoricalTest) == set(drift_config.P_VALUE_METHODS - numeric_only)
    assert values(CategoricalDistance) == set(drift_config.DISTANCE_METHODS - numeric_only)


@pytest.mark.parametrize(
    ("extra", "field", "says", "key"),
    [
        (
            "monitoring:\n  drift:\n    numeric: {test: kolmogorov}\n",
            "monitoring.drift.numeric.test",
            "'ks'",
            "numeric",
        ),
        (
            "monitoring:\n  drift:\n    categorical:\n      distance: wasserstein\n",
            "monitoring.drift.categorical.distance",
            "'jensenshannon'",
            "distance: wasserstein",
        ),
        (
            "monitoring:\n  drift:\n    numeric:\n      test: null\n      distance: null\n",
            "monitoring.drift.numeric",
            "cannot both be off",
            "numeric:",
        ),
        (
            "monitoring:\n  drift:\n    per_feature:\n      conv_rate: {distance: cosine}\n",
            "monitoring.drift.per_feature.conv_rate.distance",
            "'psi'",
            None,
        ),
        (
            "monitoring:\n  drift:\n    per_feature:\n      conv_rate: {}\n",
            "monitoring.drift.per_feature.conv_rate",
            "at least one of test, distance, threshold",
            "conv_rate",
        ),
        (
            "monitoring:\n  drift:\n    per_feature:\n      conv_rate: {threshold: 0}\n",
            "monitoring.drift.per_feature.conv_rate.threshold",
            "greater than 0",
            None,
        ),
        ("monitoring:\n  window: soon\n", "monitoring.window", "not a duration", "window"),
        ("monitoring:\n  window: 0h\n", "monitoring.window", "longer than zero", "window"),
        (
            "monitoring:\n  per_metric_tolerance: {roc_acu: 0.1}\n",
            "monitoring.per_metric_tolerance",
            "unknown metric(s): roc_acu",
            "per_metric_tolerance",
        ),
        (
            "monitoring:\n  completeness_tolerance: 1.5\n",
            "monitoring.completeness_tolerance",
            "less than or equal to 1",
            "completeness_tolerance",
        ),
        (
            "monitoring:\n  drift:\n    alpha: 1\n",
            "monitoring.drift.alpha",
            "less than 1",
            "alpha",
        ),
        (
            "monitoring:\n  stale_features: error\n",
            "monitoring.stale_features",
            "'violation'",
            "stale_features",
        ),
        (
            "monitoring:\n  min_labels: '30'\n",
            "monitoring.min_labels",
            "valid integer",
            "min_labels",
        ),
    ],
)
def test_bad_settings_fail_at_load_naming_file_field_and_line(
    extra: str, field: str, says: str, key: str | None
) -> None:
    _rejected(extra, field, says=says, key=key)


def test_a_typo_is_an_unknown_field_with_a_suggestion() -> None:
    _rejected("monitoring:\n  drfit: {alpha: 0.01}\n", "monitoring.drfit", says="drift")


def test_limit_reference_takes_a_seeded_sample_of_the_reference() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "k": rng.choice(["a", "b"], 300)})
    baseline = build_baseline(features=frame, prediction=rng.normal(size=300), task="regression")
    assert limit_reference(baseline, rows=None) is baseline
    assert limit_reference(baseline, rows=300) is baseline
    small = limit_reference(baseline, rows=50)
    again = limit_reference(baseline, rows=50)
    assert len(small.reference) == 50
    assert small.reference.equals(again.reference)
    assert list(small.reference.columns) == list(baseline.reference.columns)
    assert small.statistics is baseline.statistics
    assert set(small.reference["x"]) <= set(baseline.reference["x"])


def test_a_monitoring_only_change_is_a_config_change(tmp_path: Path) -> None:
    registry = FakeRegistry(tmp_path / "registry")
    register_version(registry, tmp_path, seed=1)
    target = FakeTarget()
    deployer = make_deployer(tmp_path, registry, targets={"local": target})
    manifest = write_manifest(
        Path(deployer.settings.deploy_manifests_dir),
        "dev",
        local_manifest("dev", version=1, port=9001),
    )
    assert run_apply(deployer, "dev").outcome == "applied"
    manifest.write_text(
        local_manifest("dev", version=1, port=9001) + "monitoring:\n  window: 24h\n"
    )
    assert deployer.plan("dev").action == "noop"  # the defaults spelled out: same hash
    manifest.write_text(
        local_manifest("dev", version=1, port=9001)
        + "monitoring:\n  drift:\n    alpha: 0.01\n    numeric: {distance: psi}\n"
    )
    plan = deployer.plan("dev")
    assert (plan.action, plan.change_kind, plan.blocked) == ("update", "config", False)
    changed = {c.key: (c.serving, c.desired) for c in plan.manifest_changes}
    assert changed["monitoring.drift.alpha"] == ("0.05", "0.01")
    assert changed["monitoring.drift.numeric.distance"] == ('"auto"', '"psi"')
    assert "in place" in plan.summary
    assert "monitoring" in plan.summary
    assert not plan.policy_changes


def test_per_feature_names_the_baseline_lacks_are_reported() -> None:
    loaded = _load(FULL)
    columns = ["conv_rate", "acc_rate", "prediction", "predicted_label"]
    assert unknown_columns(loaded.manifest, columns=columns) == ["segment"]
    assert unknown_columns(loaded.manifest, columns=[*columns, "segment"]) == []
    assert unknown_columns(_load("").manifest, columns=[]) == []
