"""The data gate's engines without Spark running: type names, parameters, the default engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feature_store.errors import DataFileError, SuiteError
from feature_store.gate import load_suite
from feature_store.gate.engines import SPARK_TYPES, PandasEngine, SparkEngine, spark_type
from feature_store.gate.validation import default_engine
from foundation.errors import SettingsError

SUITES = Path(__file__).resolve().parents[3] / "feature_repo" / "expectations"


def spark_engine() -> SparkEngine:
    return SparkEngine(session=None)  # type: ignore[arg-type]  # these paths never use it


def test_unknown_type_name_fails_naming_the_suite_entry() -> None:
    pytest.importorskip("pyspark")
    with pytest.raises(SuiteError, match=r"trips\.json: expectations\[4\]: type 'uint128'"):
        spark_type("uint128", label="trips.json", index=4)


def test_pandas_names_map_to_spark_classes_and_spark_names_pass() -> None:
    pytest.importorskip("pyspark")
    import pyspark.sql.types as spark_types

    for name, spark in SPARK_TYPES.items():
        assert isinstance(getattr(spark_types, spark), type), name
    assert spark_type("int64", label="s", index=0) == "LongType"
    assert spark_type("Timestamp", label="s", index=0) == "TimestampType"
    assert spark_type("DecimalType", label="s", index=0) == "DecimalType"


def test_every_type_in_the_shipped_suites_has_a_spark_name() -> None:
    engine = spark_engine()
    for path in sorted(SUITES.glob("*.json")):
        for index, exp in enumerate(load_suite(path=path)["expectations"]):
            kwargs: dict[str, Any] = engine.expectation(exp, label=path.name, index=index)["kwargs"]
            names = kwargs.get("type_list") or ([kwargs["type_"]] if "type_" in kwargs else [])
            assert all(name.endswith("Type") for name in names), (path.name, index, names)


def test_type_lists_are_mapped_once_and_other_expectations_untouched() -> None:
    engine = spark_engine()
    listed: dict[str, Any] = {
        "type": "expect_column_values_to_be_in_type_list",
        "kwargs": {"column": "segment", "type_list": ["str", "StringDtype", "object"]},
    }
    assert engine.expectation(listed, label="s", index=0)["kwargs"]["type_list"] == ["StringType"]
    assert listed["kwargs"]["type_list"] == ["str", "StringDtype", "object"]  # not mutated
    other = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}
    assert engine.expectation(other, label="s", index=1) is other
    assert PandasEngine().expectation(listed, label="s", index=0) is listed


def test_spark_parameters_are_naive_local_times_of_the_same_instant() -> None:
    moment = "2026-10-30T06:00:00+00:00"
    local = spark_engine().parameters({"freshness_cutoff": moment})["freshness_cutoff"]
    parsed = datetime.fromisoformat(local)
    assert parsed.tzinfo is None
    assert parsed.astimezone(UTC) == datetime(2026, 10, 30, 6, tzinfo=UTC)
    assert PandasEngine().parameters({"freshness_cutoff": moment}) == {"freshness_cutoff": moment}


def test_spark_read_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"data[/\\]trips\.parquet: data file not found"):
        spark_engine().read(repo_path=tmp_path, source="trips")


def test_default_engine_follows_the_store_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLIPWAY_FEATURE_ENV", raising=False)
    assert default_engine() == "pandas"
    for env, engine in {"spark": "spark", "redis": "pandas", "redis_cluster": "pandas"}.items():
        monkeypatch.setenv("SLIPWAY_FEATURE_ENV", env)
        assert default_engine() == engine
    monkeypatch.setenv("SLIPWAY_FEATURE_ENV", "hadoop")
    with pytest.raises(SettingsError, match="SLIPWAY_FEATURE_ENV"):
        default_engine()
