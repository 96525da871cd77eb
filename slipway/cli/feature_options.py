"""Options and helpers the ``data`` and ``features`` command groups share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from feature_store.repo import FeatureRepo

StoreEnv = Literal["local", "redis", "redis_cluster", "spark", "aws"]
"""Store configurations of a feature repo (``feature_store.settings.FeatureEnv``)."""

RepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        help="Feast feature repo folder [default: $SLIPWAY_FEATURE_REPO or ./feature_repo].",
        show_default=False,
    ),
]
EnvOption = Annotated[
    StoreEnv | None,
    typer.Option(
        "--env",
        help=(
            "Store configuration: local (SQLite, default), redis, redis_cluster, spark (Spark "
            "offline store and engine, Redis online), or aws (DynamoDB + S3)."
        ),
        show_default=False,
    ),
]


def feature_repo(repo: Path | None, env: StoreEnv | None) -> FeatureRepo:
    """The feature repo the options name, over the ``SLIPWAY_FEATURE_*`` settings."""
    from feature_store.repo import FeatureRepo
    from feature_store.settings import FeatureStoreSettings
    from foundation.settings import load_settings

    settings = load_settings(FeatureStoreSettings, feature_env=env)
    return FeatureRepo.from_settings(settings, path=repo)
