"""Settings for the model_build area, read from the environment (prefix ``SLIPWAY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.settings import load_settings as load_from_environment

RegistryKind = Literal["local", "sagemaker"]


class BuildSettings(BaseSettings):
    """Which model registry to use and where it keeps its data.

    AWS credentials are never read here: boto3 finds them with its usual chain (environment,
    profile, instance role), so they never appear in settings dumps or logs.

    Attributes:
        registry: ``local`` (a folder, the embedded default) or ``sagemaker`` (model package
            groups, artifacts on S3).
        registry_path: Folder of the local registry.
        aws_region: AWS region of the SageMaker registry and S3 bucket.
        s3_bucket: Bucket for model archives and metrics (required for ``sagemaker``).
        s3_prefix: Key prefix under the bucket.
        image_uri: Inference image recorded in each model package (required for ``sagemaker``).
        aws_endpoint_url: Endpoint for every AWS service, e.g. a moto server on 127.0.0.1.
    """

    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore")

    registry: RegistryKind = "local"
    registry_path: Path = Field(default=Path(".slipway/registry"))
    aws_region: str = "us-east-1"
    s3_bucket: str | None = None
    s3_prefix: str = "slipway/models"
    image_uri: str | None = None
    aws_endpoint_url: str | None = None


def load_settings(**overrides: Any) -> BuildSettings:
    """Read :class:`BuildSettings` from the environment; ``overrides`` that are not None win.

    Raises:
        SettingsError: A variable has an invalid value; the message names it (never its value,
            so nothing secret is echoed).
    """
    return load_from_environment(BuildSettings, **overrides)
