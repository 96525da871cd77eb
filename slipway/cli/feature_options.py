"""Options and helpers the ``data`` and ``features`` command groups share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from feature_store.repo import FeatureRepo
from feature_store.settings import FeatureEnv, FeatureStoreSettings
from foundation.settings import load_settings

RepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        help="Feast feature repo folder [default: $SLIPWAY_FEATURE_REPO or ./feature_repo].",
        show_default=False,
    ),
]
EnvOption = Annotated[
    FeatureEnv | None,
    typer.Option(
        "--env",
        help="Store configuration: local (SQLite, default), redis, or aws (DynamoDB + S3).",
        show_default=False,
    ),
]


def feature_repo(repo: Path | None, env: FeatureEnv | None) -> FeatureRepo:
    """The feature repo the options name, over the ``SLIPWAY_FEATURE_*`` settings."""
    settings = load_settings(FeatureStoreSettings)
    if env is not None:
        settings = settings.model_copy(update={"feature_env": env})
    return FeatureRepo.from_settings(settings, path=repo)
