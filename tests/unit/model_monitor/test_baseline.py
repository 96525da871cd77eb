"""Baselines: Model Monitor's statistics and constraints, deterministic, read back validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from model_monitor.baseline import (
    CONSTRAINTS_FILE,
    MANIFEST_FILE,
    REFERENCE_FILE,
    STATISTICS_FILE,
    Baseline,
    build_baseline,
    load_baseline,
)
from model_monitor.columns import PREDICTED_LABEL, PREDICTION, InferredType, Task
from model_monitor.constraints import Constraints
from model_monitor.errors import BaselineError
from model_monitor.simulate import FEATURES, driver_frame, driver_labels, driver_scores
from model_monitor.statistics import feature_entry


def _small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "count": [1, 2, 3, 4],
            "ratio": [0.5, np.nan, 1.5, -2.0],
            "whole": [1.0, 2.0, np.nan, 4.0],
            "seg": ["a", "b", None, "a"],
            "empty": [np.nan] * 4,
        }
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": pd.DataFrame()}, "empty"),
        ({"features": pd.DataFrame({"prediction": [1.0]})}, "reserved"),
        ({"features": pd.DataFrame({"_row": [1.0]})}, "reserved"),
        ({"prediction": [0.1, 0.2]}, "one value per training row"),
        ({"predicted_label": None}, "needs predicted_label"),
        ({"task": "ranking"}, "unknown task"),
        ({"task": "regression"}, "takes no predicted_label"),
        ({"prediction": ["a", "b", "c", "d"]}, "must hold numbers"),
        ({"reference_rows": 0}, "reference_rows"),
    ],
)
def test_bad_inputs_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "features": _small(),
        "prediction": [0.1, 0.2, 0.3, 0.9],
        "predicted_label": [0, 0, 0, 1],
        **kwargs,
    }
    with pytest.raises(BaselineError, match=message):
        build_baseline(**args)  # type: ignore[arg-type]


def test_statistics_follow_model_monitor_format() -> None:
    baseline = build_baseline(
        features=_small(), prediction=[0.1, 0.2, 0.3, 0.9], predicted_label=[0, 0, 0, 1]
    )
    stats = baseline.statistics
    assert stats["version"] == 0
    assert stats["dataset"] == {"item_count": 4}
    types = {f["name"]: f["inferred_type"] for f in stats["features"]}
    assert types == {
        "count": "Integral",
        "ratio": "Fractional",
        "whole": "Integral",
        "seg": "String",
        "empty": "Unknown",
        PREDICTION: "Fractional",
        PREDICTED_LABEL: "Integral",
    }
    ratio = feature_entry(stats, "ratio")
    assert ratio is not None
    numeric = ratio["numerical_statistics"]
    assert numeric["common"] == {"num_present": 3, "num_missing": 1}
    assert numeric["sum"] == pytest.approx(0.0)
    assert numeric["mean"] == pytest.approx(0.0)
    assert numeric["std_dev"] == pytest.approx(np.std([0.5, 1.5, -2.0]))
    assert (numeric["min"], numeric["max"]) == (-2.0, 1.5)
    kll = numeric["distribution"]["kll"]
    assert len(kll["buckets"]) == 10
    assert sum(b["count"] for b in kll["buckets"]) == 3
    assert kll["buckets"][0]["lower_bound"] == -2.0
    assert kll["buckets"][-1]["upper_bound"] == 1.5
    assert kll["sketch"]["parameters"] == {"method": "exact_quantiles", "quantiles": 101}
    assert kll["sketch"]["data"][0][0] == -2.0
    assert kll["sketch"]["data"][0][-1] == 1.5
    seg = feature_entry(stats, "seg")
    assert seg is not None
    strings = seg["string_statistics"]
    assert strings["common"] == {"num_present": 3, "num_missing": 1}
    assert strings["distinct_count"] == 2
    assert strings["distribution"]["categorical"]["buckets"] == [
        {"value": "a", "count": 2.0},
        {"value": "b", "count": 1.0},
    ]


def test_constraints_are_what_the_baseline_satisfies() -> None:
    baseline = build_baseline(
        features=_small(), prediction=[0.1, 0.2, 0.3, 0.9], predicted_label=[0, 0, 0, 1]
    )
    doc = baseline.constraints.to_json()
    by_name = {f["name"]: f for f in doc["features"]}
    assert by_name["ratio"]["completeness"] == 0.75
    assert by_name["ratio"]["num_constraints"] == {"is_non_negative": False}
    assert by_name["count"]["num_constraints"] == {"is_non_negative": True}
    assert by_name["seg"]["string_constraints"] == {"domains": ["a", "b"]}
    assert by_name["empty"]["completeness"] == 0.0
    assert doc["monitoring_config"] == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 0.1,
        "domain_content_threshold": 0.1,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Simple",
            "categorical_comparison_threshold": 0.1,
            "categorical_drift_method": "LInfinity",
        },
    }
    assert Constraints.from_json(doc) == baseline.constraints


def test_regression_baseline_has_only_the_predicted_value() -> None:
    baseline = build_baseline(
        features=_small(), prediction=[1.0, 2.5, 3.0, 4.0], task=Task.REGRESSION
    )
    assert baseline.schema.task is Task.REGRESSION
    assert [c.name for c in baseline.schema.columns if c.prediction] == [PREDICTION]


def test_same_input_gives_identical_files(tmp_path: Path, baseline: Baseline) -> None:
    frame = driver_frame(8000, seed=4)
    scores = driver_scores(frame)
    first = build_baseline(features=frame, prediction=scores, predicted_label=driver_labels(scores))
    again = build_baseline(
        features=frame.copy(), prediction=scores.copy(), predicted_label=driver_labels(scores)
    )
    first.write(directory=tmp_path / "a")
    again.write(directory=tmp_path / "b")
    for name in (STATISTICS_FILE, CONSTRAINTS_FILE, MANIFEST_FILE, REFERENCE_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert len(first.reference) == 5000
    assert first.rows == 8000


def test_written_baseline_reads_back(tmp_path: Path, baseline: Baseline) -> None:
    baseline.write(directory=tmp_path)
    loaded = load_baseline(directory=tmp_path)
    assert loaded.schema == baseline.schema
    assert loaded.constraints == baseline.constraints
    assert loaded.statistics == orjson.loads(orjson.dumps(baseline.statistics))
    pd.testing.assert_frame_equal(loaded.reference, baseline.reference)
    assert loaded.schema.features == FEATURES
    assert loaded.schema.column("city").inferred_type is InferredType.STRING


def test_loading_reports_the_file_at_fault(tmp_path: Path, baseline: Baseline) -> None:
    with pytest.raises(BaselineError, match=r"statistics\.json: missing"):
        load_baseline(directory=tmp_path)
    baseline.write(directory=tmp_path)
    (tmp_path / CONSTRAINTS_FILE).write_text("{")
    with pytest.raises(BaselineError, match=r"constraints\.json: not valid JSON"):
        load_baseline(directory=tmp_path)
    doc = baseline.constraints.to_json()
    doc["features"][0]["inferred_type"] = "Decimal"
    (tmp_path / CONSTRAINTS_FILE).write_bytes(orjson.dumps(doc))
    with pytest.raises(BaselineError, match=r"features\[0\] \(conv_rate\): unknown inferred_type"):
        load_baseline(directory=tmp_path)
    doc = baseline.constraints.to_json()
    doc["monitoring_config"]["datatype_check_threshold"] = 3
    (tmp_path / CONSTRAINTS_FILE).write_bytes(orjson.dumps(doc))
    with pytest.raises(
        BaselineError, match="datatype_check_threshold must be a number between 0 and 1"
    ):
        load_baseline(directory=tmp_path)
    doc = baseline.constraints.to_json()
    doc["features"] = doc["features"][1:]
    (tmp_path / CONSTRAINTS_FILE).write_bytes(orjson.dumps(doc))
    with pytest.raises(BaselineError, match="list different features"):
        load_baseline(directory=tmp_path)
    (tmp_path / CONSTRAINTS_FILE).write_bytes(orjson.dumps(baseline.constraints.to_json()))
    (tmp_path / REFERENCE_FILE).write_bytes(b"not parquet")
    with pytest.raises(BaselineError, match="not a readable parquet file"):
        load_baseline(directory=tmp_path)


def test_hand_edited_constraints_are_read(tmp_path: Path, baseline: Baseline) -> None:
    baseline.write(directory=tmp_path)
    doc = baseline.constraints.to_json()
    doc["monitoring_config"]["distribution_constraints"]["perform_comparison"] = "Disabled"
    doc["monitoring_config"]["datatype_check_threshold"] = 0.5
    (tmp_path / CONSTRAINTS_FILE).write_bytes(orjson.dumps(doc))
    config = load_baseline(directory=tmp_path).constraints.monitoring_config
    assert config.perform_comparison is False
    assert config.datatype_check_threshold == 0.5
