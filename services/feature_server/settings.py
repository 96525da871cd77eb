"""Settings of the feature service, read from the environment (prefix ``SLIPWAY_SERVER_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from feature_store.settings import FeatureEnv

ENV_PREFIX = "SLIPWAY_SERVER_"


class ServerSettings(BaseSettings):
    """How the feature service finds its repo and which limits it enforces.

    Attributes:
        feature_repo: The Feast feature repo folder (its registry and online store are served).
        feature_env: Store configuration of the repo: ``local`` (SQLite), ``redis``,
            ``redis_cluster``, ``spark`` (its online store) or ``aws``.
        api_keys_file: YAML or JSON file of hashed API keys. When unset, auth is off (and
            ``/readyz`` says so).
        max_entities: Most entity rows one request may carry (413 above).
        max_body_bytes: Largest request body accepted (413 above).
        max_write_rows: Most rows one push or write may carry (422 above).
        registry_refresh_seconds: How often the registry snapshot is rebuilt in the background.
        store_timeout_seconds: Longest wait for the online store before answering 503.
        sqlite_cache_entries: Entity keys the SQLite reader keeps between two commits to the
            store (the database's change counter is checked on every read, so never stale); 0 turns
            the cache off. Roughly 1 KB per key and view per worker.
        freshness_refresh_seconds: How often the newest value of every view is looked up for
            ``slipway_feature_view_freshness_seconds`` (in the background).
        request_id_header: Header echoed back with the request id (taken from the request when
            present and well formed, generated otherwise).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    feature_repo: Path = Field(default=Path("feature_repo"))
    feature_env: FeatureEnv = "local"
    api_keys_file: Path | None = None
    max_entities: int = Field(default=1000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_write_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    registry_refresh_seconds: float = Field(default=30.0, gt=0)
    store_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    sqlite_cache_entries: int = Field(default=20_000, ge=0, le=10_000_000)
    freshness_refresh_seconds: float = Field(default=15.0, ge=0.1)
    request_id_header: str = "x-request-id"

    def to_env(self) -> dict[str, str]:
        """Render these settings as ``SLIPWAY_SERVER_*`` variables (for worker processes).

        Returns:
            Environment variable names and values; unset optional settings are left out.
        """
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        return env
