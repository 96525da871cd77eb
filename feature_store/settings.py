"""Settings for the services area, read from the environment (prefix ``SLIPWAY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

FeatureEnv = Literal["local", "redis", "redis_cluster", "spark", "aws"]


class FeatureStoreSettings(BaseSettings):
    """Where the feature repo lives and which store configuration to use.

    Attributes:
        feature_repo: Path of the declarative Feast repo.
        feature_env: Which ``feature_store*.yaml`` to load: ``local`` (SQLite, the default),
            ``redis``, ``redis_cluster`` (Redis Cluster online store), ``spark`` (Spark
            offline store and engine, Redis online store) or ``aws`` (DynamoDB online store,
            S3 registry).
    """

    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore")

    feature_repo: Path = Field(default=Path("feature_repo"))
    feature_env: FeatureEnv = "local"
