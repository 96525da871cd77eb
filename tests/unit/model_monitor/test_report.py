"""run_monitor: inputs, statuses, the files it writes, and a self-contained HTML page."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson
import pytest
from monitor_kit import frame_records, window

from model_monitor.baseline import Baseline
from model_monitor.errors import MonitorConfigError
from model_monitor.quality import GroundTruthRecord
from model_monitor.report import (
    COMPLETED,
    COMPLETED_WITH_VIOLATIONS,
    FAILED,
    MonitorConfig,
    run_monitor,
)
from model_monitor.simulate import IMPORTANT

FAST = MonitorConfig(evidently_html=False)


def test_exactly_one_input_is_required(baseline: Baseline, tmp_path: Path) -> None:
    with pytest.raises(MonitorConfigError, match="exactly one"):
        run_monitor(baseline=baseline, out_dir=tmp_path)
    frame = window(10, seed=1)
    with pytest.raises(MonitorConfigError, match="exactly one"):
        run_monitor(baseline=baseline, out_dir=tmp_path, frame=frame, records=[])


def test_bad_config_is_refused() -> None:
    with pytest.raises(MonitorConfigError, match="completeness_tolerance"):
        MonitorConfig(completeness_tolerance=2)
    with pytest.raises(MonitorConfigError, match="quality tolerances"):
        MonitorConfig(quality_tolerance=-1)


def test_an_empty_window_fails_with_a_reason_and_still_writes_files(
    baseline: Baseline, tmp_path: Path
) -> None:
    result = run_monitor(baseline=baseline, out_dir=tmp_path, records=[], config=FAST)
    assert result.status == FAILED
    assert result.failure_reason == "the capture window holds no rows to analyse"
    assert "the capture window holds no records" in result.warnings
    assert orjson.loads((tmp_path / "constraint_violations.json").read_bytes()) == {
        "violations": []
    }
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["status"] == FAILED
    assert "no rows to analyse" in (tmp_path / "report.html").read_text()


def test_a_clean_window_completes(baseline: Baseline, tmp_path: Path) -> None:
    result = run_monitor(
        baseline=baseline, out_dir=tmp_path, frame=window(2000, seed=2), config=FAST
    )
    assert result.status == COMPLETED
    assert result.violations == ()
    assert not result.has_violations
    assert set(result.files) == {"violations", "statistics", "html", "summary"}
    stats = orjson.loads(result.files["statistics"].read_bytes())
    assert stats["dataset"]["item_count"] == 2000


def test_a_drifted_window_with_labels_writes_everything(baseline: Baseline, tmp_path: Path) -> None:
    frame = window(2000, seed=3, shift={IMPORTANT: 0.5})
    frame.loc[frame.index[:300], "city"] = "madrid"
    rng = np.random.default_rng(3)
    labels = [GroundTruthRecord.of(e, int(rng.random() < 0.5)) for e in frame["_event_id"]]
    result = run_monitor(
        baseline=baseline,
        out_dir=tmp_path,
        frame=frame,
        labels=labels,
        registered_metrics={"roc_auc": 0.95},
    )
    assert result.status == COMPLETED_WITH_VIOLATIONS
    assert IMPORTANT in result.drifted_columns
    checks = {(v.feature_name, v.constraint_check_type) for v in result.violations}
    assert ("city", "categorical_values_check") in checks
    assert result.quality is not None
    assert [v.metric_name for v in result.quality.violations] == ["roc_auc"]
    names = {
        "violations",
        "statistics",
        "model_quality_violations",
        "drift_html",
        "html",
        "summary",
    }
    assert set(result.files) == names
    assert all(path.is_file() for path in result.files.values())
    violations = orjson.loads(result.files["violations"].read_bytes())["violations"]
    assert {v["constraint_check_type"] for v in violations} >= {
        "baseline_drift_check",
        "categorical_values_check",
    }
    drift_text = next(v["description"] for v in violations if v["feature_name"] == IMPORTANT)
    assert re.search(r"distance: (.+) exceeds threshold: (.+)", drift_text)
    summary = orjson.loads(result.files["summary"].read_bytes())
    assert summary == orjson.loads(orjson.dumps(result.to_json()))
    assert summary["violation_counts"]["baseline_drift_check"] >= 1
    assert summary["model_quality"]["violations"][0]["metric_name"] == "roc_auc"


def test_the_html_page_is_self_contained(baseline: Baseline, tmp_path: Path) -> None:
    frame = window(1000, seed=4, shift={"rating": 1.0}).drop(columns=["city"])
    result = run_monitor(baseline=baseline, out_dir=tmp_path, frame=frame, config=FAST)
    html = result.files["html"].read_text()
    assert html.startswith("<!doctype html>")
    assert "<script" not in html
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", html)
    assert "missing_column_check" in html
    assert "rating" in html
    assert "<svg" in html


def test_capture_records_in_memory(baseline: Baseline, tmp_path: Path) -> None:
    records = frame_records(window(300, seed=5))
    result = run_monitor(baseline=baseline, out_dir=tmp_path, records=records, config=FAST)
    assert result.window.requests == 300
    assert result.window.rows == 300
    assert result.window.first == "2025-03-04T10:00:00Z"
    assert result.window.last == "2025-03-04T10:04:59Z"
    assert result.status == COMPLETED, result.violations


def test_perform_comparison_disabled_skips_drift(baseline: Baseline, tmp_path: Path) -> None:
    off = baseline.constraints.with_config(perform_comparison=False)
    frame = window(2000, seed=6, shift={IMPORTANT: 1.0})
    result = run_monitor(
        baseline=baseline, out_dir=tmp_path, frame=frame, constraints=off, config=FAST
    )
    assert result.drift is None
    assert result.drifted_columns == ()
