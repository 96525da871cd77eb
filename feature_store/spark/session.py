"""The one Spark session of a process: what it needs, how it is configured, when it starts.

The ``spark`` store configuration names Feast's Spark offline store and ``spark.engine``; both
take a ``spark_conf``. :func:`with_spark_settings` fills it from :class:`SparkSettings` (the
environment) over the YAML's own, plus what Slipway always needs (:data:`REQUIRED_CONF`).
:func:`spark_session` checks that pyspark and Java 17+ are there (one line naming what to
install otherwise) and starts the session; Feast, the data gate and the training frames then
share it. Spark keeps one session per process: settings read after it started are ignored
until :func:`stop_spark`.

Nothing here imports pyspark at module import.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from feature_store.errors import SparkUnavailableError
from feature_store.spark.settings import SparkSettings
from foundation.settings import load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

OFFLINE_STORE_TYPE: Final = "feature_store.spark.offline_store.FileSourceSparkOfflineStore"
"""The ``offline_store.type`` of the spark configuration (Feast's Spark store over FileSources)."""

ENGINE_TYPE: Final = "spark.engine"
"""Feast's Spark batch engine (materialization)."""

REQUIRED_CONF: Final[dict[str, str]] = {
    # Timestamps compare and convert in UTC, as on the local path, whatever the machine's zone.
    "spark.sql.session.timeZone": "UTC",
    # pandas writes nanosecond timestamps, which Spark has no type for: read them as longs,
    # then feature_store.spark.frames turns them into (microsecond) timestamps.
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # Arrow for Spark <-> pandas (training frames, entity frames).
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
"""Spark settings Slipway's results depend on; the environment cannot turn them off."""

LOCAL_CONF: Final[dict[str, str]] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
"""On a ``local`` master the driver listens on the loopback interface only."""

INSTALL_PYSPARK: Final = "pip install 'slipway[spark]' (pyspark>=4.0,<4.2)"
INSTALL_JAVA: Final = "install Java 17 or newer, e.g. apt-get install openjdk-17-jre-headless"
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
_MIN_JAVA: Final = 17


def uses_spark(raw: Mapping[str, Any]) -> bool:
    """Whether a raw ``feature_store*.yaml`` mapping names a Spark offline store or engine."""
    offline = raw.get("offline_store")
    engine = raw.get("batch_engine")
    offline_type = offline.get("type") if isinstance(offline, dict) else offline
    engine_type = engine.get("type") if isinstance(engine, dict) else engine
    return offline_type in (OFFLINE_STORE_TYPE, "spark") or engine_type == ENGINE_TYPE


def config_uses_spark(config: Any) -> bool:
    """Whether a Feast ``RepoConfig`` has a Spark offline store or the Spark engine."""
    offline = getattr(config, "offline_config", None)
    engine = getattr(config, "batch_engine_config", None)
    return uses_spark({"offline_store": offline, "batch_engine": engine})


def with_spark_settings(
    raw: dict[str, Any], *, settings: SparkSettings | None = None
) -> dict[str, Any]:
    """Fill the ``spark_conf`` of the Spark offline store and engine sections of ``raw``.

    Each section keeps its YAML ``spark_conf`` under the settings (``SLIPWAY_SPARK_*``, read
    from the environment when ``settings`` is None) and :data:`REQUIRED_CONF`; other sections
    are untouched. Returns ``raw`` (changed in place).

    Raises:
        SettingsError: A ``SLIPWAY_SPARK_*`` variable is invalid (the message names it).
    """
    settings = settings or load_settings(SparkSettings)
    for section in ("offline_store", "batch_engine"):
        value = raw.get(section)
        if isinstance(value, str) and value in (OFFLINE_STORE_TYPE, "spark", ENGINE_TYPE):
            value = raw[section] = {"type": value}
        if not isinstance(value, dict) or value.get("type") not in (
            OFFLINE_STORE_TYPE,
            "spark",
            ENGINE_TYPE,
        ):
            continue
        base = {str(k): str(v) for k, v in (value.get("spark_conf") or {}).items()}
        value["spark_conf"] = spark_conf(base=base, settings=settings)
    return raw


def spark_conf(*, base: Mapping[str, str], settings: SparkSettings) -> dict[str, str]:
    """The Spark settings: ``base`` (the YAML), then the environment, then the required ones.

    The master is ``SLIPWAY_SPARK_MASTER`` when set, else the YAML's ``spark.master``, else
    ``local[*]``.
    """
    conf = dict(base)
    if "master" in settings.model_fields_set or "spark.master" not in conf:
        conf["spark.master"] = settings.master
    local = conf["spark.master"].startswith("local")
    if local:
        for key, value in LOCAL_CONF.items():
            conf.setdefault(key, value)
    if settings.driver_memory:
        conf["spark.driver.memory"] = settings.driver_memory
    local_python = sys.executable if local else None
    python = settings.python or os.environ.get("PYSPARK_PYTHON") or local_python
    if python:
        conf["spark.pyspark.python"] = python
    conf.update(settings.conf)
    conf.update(REQUIRED_CONF)
    return conf


def check_spark_available() -> None:
    """Raise unless pyspark imports and a Java 17+ runtime is found.

    Raises:
        SparkUnavailableError: One line naming what to install.
    """
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailableError(
            f"the spark store configuration needs pyspark, which is not installed: "
            f"{INSTALL_PYSPARK}"
        ) from exc
    java = _java_binary()
    if java is None:
        raise SparkUnavailableError(
            f"Spark needs Java: no `java` on PATH and JAVA_HOME is not set; {INSTALL_JAVA}"
        )
    major = _java_major(java)
    if major is not None and major < _MIN_JAVA:
        raise SparkUnavailableError(
            f"Spark 4 needs Java {_MIN_JAVA} or newer, {java} is Java {major}; {INSTALL_JAVA}"
        )


def spark_session(conf: Mapping[str, str]) -> SparkSession:
    """The process's Spark session, started with ``conf`` if none is running.

    A running session is returned as it is (Spark fixes most settings at start); the settings
    Slipway's results depend on (:data:`REQUIRED_CONF`) are set on it again.

    Raises:
        SparkUnavailableError: pyspark or Java is missing, or the driver failed to start.
    """
    check_spark_available()
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:
        python = conf.get("spark.pyspark.python")
        if python:  # Spark's Python workers start `$PYSPARK_PYTHON`, by default `python3`
            os.environ["PYSPARK_PYTHON"] = python
        if str(conf.get("spark.master", "")).startswith("local"):
            # Every listener of a local driver (RPC, block manager) on the loopback interface.
            os.environ.setdefault("SPARK_LOCAL_IP", LOCAL_CONF["spark.driver.bindAddress"])
        try:
            active = SparkSession.builder.appName("slipway").config(map=dict(conf)).getOrCreate()
        except (PySparkException, OSError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SparkUnavailableError(
                f"the Spark driver did not start (master {conf.get('spark.master')}): {first}"
            ) from exc
    for key, value in REQUIRED_CONF.items():
        active.conf.set(key, value)
    return active


def session_for(config: Any) -> SparkSession:
    """The Spark session for a Feast ``RepoConfig`` (its offline store's, else its engine's conf).

    Start it before Feast does: Feast would start it without the Python interpreter setting,
    and its Python workers would miss Feast.

    Raises:
        SparkUnavailableError: pyspark or Java is missing, or the driver failed to start.
    """
    conf = getattr(config.offline_store, "spark_conf", None)
    if not conf:
        conf = getattr(config.batch_engine, "spark_conf", None) or {}
    return spark_session(conf)


def repo_spark_session(repo_path: Path) -> SparkSession:
    """The Spark session for work outside Feast (the data gate) on the repo at ``repo_path``.

    Its conf is the ``offline_store.spark_conf`` of the repo's ``feature_store.spark.yaml``
    (when the file is there), under the settings; other fields of the file are not read, so
    the online store's variables need not be set.

    Raises:
        SparkUnavailableError: pyspark or Java is missing, or the driver failed to start.
        RepoConfigError: The YAML file cannot be read or parsed.
        SettingsError: A ``SLIPWAY_SPARK_*`` variable is invalid.
    """
    from feature_store.repo import YAML_BY_ENV

    path = repo_path / YAML_BY_ENV["spark"]
    base: dict[str, str] = {}
    if path.is_file():
        base = _yaml_spark_conf(path)
    return spark_session(spark_conf(base=base, settings=load_settings(SparkSettings)))


def stop_spark() -> None:
    """Stop the process's Spark session, if one is running (the next call starts a new one)."""
    if "pyspark" not in sys.modules:
        return
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def _yaml_spark_conf(path: Path) -> dict[str, str]:
    import yaml

    from feature_store.errors import RepoConfigError

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RepoConfigError(f"{path}: cannot read the Spark settings: {exc}") from exc
    store = raw.get("offline_store") if isinstance(raw, dict) else None
    conf = store.get("spark_conf") if isinstance(store, dict) else None
    if not isinstance(conf, dict):
        return {}
    return {str(key): str(value) for key, value in conf.items()}


def _java_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("java")


def _java_major(java: str) -> int | None:
    """The Java major version (``1.8`` is 8), or None when ``java -version`` does not say."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SparkUnavailableError(
            f"Spark needs Java: cannot run {java}: {exc}; {INSTALL_JAVA}"
        ) from exc
    if done.returncode != 0:
        raise SparkUnavailableError(
            f"Spark needs Java: `{java} -version` exited {done.returncode}; {INSTALL_JAVA}"
        )
    found = _JAVA_VERSION.search(done.stderr + done.stdout)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major
