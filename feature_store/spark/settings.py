"""Spark settings, read from the environment (prefix ``SLIPWAY_SPARK_``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SparkSettings(BaseSettings):
    """Where Spark runs and what it is told, for the ``spark`` store configuration.

    Attributes:
        master: The Spark master URL (``SLIPWAY_SPARK_MASTER``): ``local[*]`` (every core of
            this machine, the default), ``local[2]``, ``spark://host:7077``, ``yarn``, ...
        conf: Extra Spark configuration as a JSON object of strings (``SLIPWAY_SPARK_CONF``),
            e.g. ``{"spark.executor.memory": "4g"}``; it wins over the YAML's ``spark_conf``.
        driver_memory: ``spark.driver.memory`` (``SLIPWAY_SPARK_DRIVER_MEMORY``, e.g. ``4g``);
            Spark's own default (1g) when unset.
        python: The Python interpreter Spark's Python workers run (``SLIPWAY_SPARK_PYTHON``);
            on a ``local`` master, this interpreter when unset (Spark's default is
            ``python3`` on the PATH, which may lack Feast).
    """

    model_config = SettingsConfigDict(env_prefix="SLIPWAY_SPARK_", extra="ignore")

    master: str = Field(default="local[*]", min_length=1)
    conf: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    driver_memory: str | None = None
    python: str | None = None

    @field_validator("conf", mode="before")
    @classmethod
    def _parse_conf(cls, value: Any) -> Any:
        """Decode the JSON object given in the environment (a dict passes through)."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object of Spark settings ({exc.msg})") from exc
