"""The spark store configuration without starting Spark: settings, conf layers, what is missing."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from feature_store.errors import RepoConfigError, SparkUnavailableError
from feature_store.repo import FeatureRepo
from feature_store.spark.session import (
    ENGINE_TYPE,
    OFFLINE_STORE_TYPE,
    REQUIRED_CONF,
    check_spark_available,
    spark_conf,
    uses_spark,
    with_spark_settings,
)
from feature_store.spark.settings import SparkSettings
from foundation.errors import SettingsError
from foundation.settings import load_settings

SPARK_MODULES = (
    "feature_store.spark.offline_store",
    "feast.infra.offline_stores.contrib.spark_offline_store.spark",
    "feast.infra.offline_stores.contrib.spark_offline_store.spark_source",
    "feast.infra.compute_engines.spark.compute",
)


@pytest.mark.parametrize("value", ["{not json", "[1, 2]", '"a string"'])
def test_bad_spark_conf_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SLIPWAY_SPARK_CONF", value)
    with pytest.raises(SettingsError, match="SLIPWAY_SPARK_CONF") as caught:
        load_settings(SparkSettings)
    assert "\n" not in str(caught.value)
    assert value not in str(caught.value)  # a value may hold a secret


def test_spark_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MASTER", "CONF", "DRIVER_MEMORY", "PYTHON"):
        monkeypatch.delenv(f"SLIPWAY_SPARK_{name}", raising=False)
    assert load_settings(SparkSettings).master == "local[*]"
    assert load_settings(SparkSettings).conf == {}
    monkeypatch.setenv("SLIPWAY_SPARK_MASTER", "spark://head:7077")
    monkeypatch.setenv("SLIPWAY_SPARK_CONF", '{"spark.executor.memory": "4g"}')
    settings = load_settings(SparkSettings)
    assert (settings.master, settings.conf) == (
        "spark://head:7077",
        {"spark.executor.memory": "4g"},
    )


def test_conf_layers_yaml_then_environment_then_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    base = {
        "spark.master": "yarn",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.session.timeZone": "Europe/Paris",
    }
    settings = SparkSettings(
        master="local[3]", conf={"spark.ui.enabled": "true"}, driver_memory="3g"
    )
    conf = spark_conf(base=base, settings=settings)
    assert conf["spark.master"] == "local[3]"  # the environment picks the master
    assert conf["spark.ui.enabled"] == "true"  # SLIPWAY_SPARK_CONF over the YAML
    assert conf["spark.sql.shuffle.partitions"] == "8"  # the YAML where nothing overrides it
    assert conf["spark.driver.memory"] == "3g"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"  # local: loopback only
    assert conf["spark.pyspark.python"] == sys.executable  # workers run this interpreter
    for key, value in REQUIRED_CONF.items():
        assert conf[key] == value  # UTC and nanosecond reads cannot be turned off
    cluster = spark_conf(base={}, settings=SparkSettings(master="yarn"))
    assert "spark.driver.bindAddress" not in cluster
    assert "spark.pyspark.python" not in cluster  # the cluster's own interpreter


def test_the_yaml_master_holds_unless_the_environment_sets_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLIPWAY_SPARK_MASTER", raising=False)
    yaml_master = {"spark.master": "spark://head:7077"}
    assert spark_conf(base=yaml_master, settings=load_settings(SparkSettings))["spark.master"] == (
        "spark://head:7077"
    )
    assert spark_conf(base={}, settings=load_settings(SparkSettings))["spark.master"] == "local[*]"
    monkeypatch.setenv("SLIPWAY_SPARK_MASTER", "local[2]")
    conf = spark_conf(base=yaml_master, settings=load_settings(SparkSettings))
    assert conf["spark.master"] == "local[2]"


def test_with_spark_settings_fills_only_spark_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_SPARK_MASTER", "local[2]")
    raw = {
        "online_store": {"type": "redis", "connection_string": "x"},
        "offline_store": {"type": OFFLINE_STORE_TYPE, "spark_conf": {"spark.ui.enabled": "false"}},
        "batch_engine": ENGINE_TYPE,
    }
    assert uses_spark(raw)
    filled = with_spark_settings(raw)
    assert filled["online_store"] == {"type": "redis", "connection_string": "x"}
    assert filled["offline_store"]["spark_conf"]["spark.master"] == "local[2]"
    assert filled["offline_store"]["spark_conf"]["spark.ui.enabled"] == "false"
    assert filled["batch_engine"]["type"] == ENGINE_TYPE
    assert filled["batch_engine"]["spark_conf"]["spark.master"] == "local[2]"
    plain = {"offline_store": {"type": "file"}, "online_store": {"type": "sqlite"}}
    assert not uses_spark(plain)
    assert with_spark_settings(dict(plain)) == plain


def test_spark_yaml_is_feasts_spark_store_and_engine(
    feature_repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.setenv("SLIPWAY_REDIS_URL", "127.0.0.1:6379")
    monkeypatch.setenv("SLIPWAY_SPARK_MASTER", "local[2]")
    config = FeatureRepo(path=feature_repo_copy, env="spark").config
    from feast.infra.compute_engines.spark.compute import SparkComputeEngineConfig
    from feast.infra.offline_stores.contrib.spark_offline_store.spark import (
        SparkOfflineStoreConfig,
    )

    assert isinstance(config.offline_store, SparkOfflineStoreConfig)
    assert config.offline_store.type == OFFLINE_STORE_TYPE
    assert isinstance(config.batch_engine, SparkComputeEngineConfig)
    assert config.offline_store.spark_conf["spark.master"] == "local[2]"
    assert config.batch_engine.spark_conf == config.offline_store.spark_conf
    assert config.online_store.type == "redis"


def test_spark_yaml_without_pyspark_is_one_line(
    feature_repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_REDIS_URL", "127.0.0.1:6379")
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` now fails
    for name in SPARK_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(RepoConfigError) as caught:
        _ = FeatureRepo(path=feature_repo_copy, env="spark").config
    message = str(caught.value)
    assert "\n" not in message
    assert "feature_store.spark.yaml" in message
    assert "pip install 'slipway[spark]'" in message
    with pytest.raises(SparkUnavailableError, match=r"pip install 'slipway\[spark\]'"):
        check_spark_available()


def _fake_java(folder: Path, banner: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    java = folder / "java"
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\n", encoding="utf-8")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


def test_missing_java_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkUnavailableError, match="openjdk-17-jre-headless") as caught:
        check_spark_available()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("banner", "major"),
    [('openjdk version "11.0.22" 2024-01-16', 11), ('java version "1.8.0_392"', 8)],
)
def test_old_java_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, banner: str, major: int
) -> None:
    pytest.importorskip("pyspark")
    _fake_java(tmp_path / "jdk" / "bin", banner)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(SparkUnavailableError, match=f"is Java {major}; install Java 17"):
        check_spark_available()


def test_java_17_from_java_home_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    _fake_java(tmp_path / "jdk" / "bin", 'openjdk version "17.0.15" 2025-04-15')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    check_spark_available()


def test_redis_cluster_yaml(feature_repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLIPWAY_REDIS_CLUSTER_URL", raising=False)
    with pytest.raises(RepoConfigError, match="SLIPWAY_REDIS_CLUSTER_URL"):
        _ = FeatureRepo(path=feature_repo_copy, env="redis_cluster").config
    monkeypatch.setenv("SLIPWAY_REDIS_CLUSTER_URL", "10.0.0.1:6379,10.0.0.2:6379")
    config = FeatureRepo(path=feature_repo_copy, env="redis_cluster").config
    assert config.online_store.redis_type.value == "redis_cluster"
    assert config.offline_store.type in ("file", "dask")
