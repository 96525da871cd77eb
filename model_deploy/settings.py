"""Settings for the model_deploy area, read from the environment (prefix ``SLIPWAY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeploySettings(BaseSettings):
    """Where manifests and deploy state live, and how long deploys may take.

    The registry a manifest's version is read from is named by the manifest (``model.registry``);
    where that registry lives comes from model_build's settings (``SLIPWAY_REGISTRY_PATH``,
    ``SLIPWAY_S3_BUCKET``...). AWS credentials are never read here (boto3's usual chain).

    Attributes:
        deploy_manifests_dir: Folder of ``<env>.yaml`` manifests.
        deploy_state_dir: Deploy state root (locks, history, local target processes).
        deploy_server_command: Command starting the local inference server, before
            ``--bundle DIR --host 127.0.0.1 --port N`` (JSON list; default
            ``python -m services.inference``).
        deploy_health_timeout: Seconds a new local backend has to answer ``/ping``.
        deploy_wait_timeout: Seconds a SageMaker endpoint has to reach ``InService``.
        deploy_poll_seconds: Seconds between SageMaker status polls.
        deploy_state: Where the lock, the deploy history and the in-flight intent live:
            ``local`` (files under ``deploy_state_dir``, the embedded default) or ``s3`` (a
            bucket every runner sees, with conditional writes for the lock).
        deploy_state_bucket: The bucket of ``deploy_state=s3``.
        deploy_state_prefix: Key prefix under which ``s3`` state lives.
        deploy_lock_ttl: Seconds a lock stays valid without a refresh (every traffic step, and
            the waits between them, refresh it); an older lock is stale and the next run takes
            it over (a runner that died blocks its environment this long at most).
        git_sha: Commit of the manifest repo recorded with each deploy (default: ``git
            rev-parse HEAD`` in the manifests folder).
        aws_region: AWS region of SageMaker targets.
        aws_endpoint_url: Endpoint for every AWS service (e.g. a moto server on 127.0.0.1).
    """

    # An empty variable is unset (a workflow passes ``${{ vars.X }}`` even when X is not set).
    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore", env_ignore_empty=True)

    deploy_manifests_dir: Path = Field(default=Path("model_deploy/environments"))
    deploy_state_dir: Path = Field(default=Path(".slipway/deploy"))
    deploy_server_command: list[str] | None = None
    deploy_health_timeout: float = Field(default=60.0, gt=0)
    deploy_wait_timeout: float = Field(default=1800.0, gt=0)
    deploy_poll_seconds: float = Field(default=15.0, gt=0)
    deploy_state: Literal["local", "s3"] = "local"
    deploy_state_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    deploy_state_prefix: str = "slipway/deploy-state"
    deploy_lock_ttl: float = Field(default=900.0, gt=0)
    git_sha: str | None = None
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
