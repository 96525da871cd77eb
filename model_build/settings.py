"""Settings for the model_build area, read from the environment (prefix ``SLIPWAY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
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
        tracking: Track every local build as an MLflow run (``SLIPWAY_TRACKING=false`` turns
            it off).
        tracking_uri: A remote tracking store: ``http(s)://`` (an MLflow tracking server), a
            SageMaker managed MLflow tracking server ARN
            (``arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name>``, through
            the sagemaker-mlflow plugin), or a database URI (``sqlite:///``,
            ``postgresql://``...). Unset: the embedded store in ``tracking_dir``.
        tracking_dir: Folder of the embedded store (``mlflow.db`` and ``artifacts/``);
            default: ``tracking`` beside the local registry folder (``.slipway/tracking``).
        tracking_ui_url: The MLflow UI serving the store, for run links (default: the
            tracking URI when it is ``http(s)://``; ``http://127.0.0.1:5000``, where
            ``mlflow ui`` listens, for the embedded store; none for an ARN).
    """

    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore")

    registry: RegistryKind = "local"
    registry_path: Path = Field(default=Path(".slipway/registry"))
    aws_region: str = "us-east-1"
    s3_bucket: str | None = None
    s3_prefix: str = "slipway/models"
    image_uri: str | None = None
    aws_endpoint_url: str | None = None
    tracking: bool = True
    tracking_uri: str | None = None
    tracking_dir: Path | None = None
    tracking_ui_url: str | None = None

    @field_validator("tracking_uri")
    @classmethod
    def _known_store(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if value.startswith("file:") or ("://" not in value and not value.startswith("arn:")):
            raise ValueError(
                "MLflow 3 refuses file stores; give sqlite:///<path>/mlflow.db, an "
                "http(s):// tracking server or a SageMaker MLflow tracking server ARN"
            )
        if value.startswith("arn:") and ":mlflow-" not in value:
            raise ValueError(
                "an ARN must name a SageMaker MLflow tracking server "
                "(arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name>)"
            )
        return value


def load_settings(**overrides: Any) -> BuildSettings:
    """Read :class:`BuildSettings` from the environment; ``overrides`` that are not None win.

    Raises:
        SettingsError: A variable has an invalid value; the message names it (never its value,
            so nothing secret is echoed).
    """
    return load_from_environment(BuildSettings, **overrides)
