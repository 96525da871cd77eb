"""Pick the deploy state store from the settings (``SLIPWAY_DEPLOY_STATE``)."""

from __future__ import annotations

from foundation.errors import SettingsError
from model_deploy.settings import DeploySettings
from model_deploy.store.local import LocalStateStore
from model_deploy.store.protocol import StateStore


def open_state_store(settings: DeploySettings) -> StateStore:
    """The store ``SLIPWAY_DEPLOY_STATE`` names: ``local`` or ``s3``.

    ``local`` keeps files under ``SLIPWAY_DEPLOY_STATE_DIR``; ``s3`` objects in
    ``SLIPWAY_DEPLOY_STATE_BUCKET`` under ``SLIPWAY_DEPLOY_STATE_PREFIX``.

    boto3 loads only for ``s3``, on the first call.

    Raises:
        SettingsError: ``s3`` without a bucket.
    """
    if settings.deploy_state == "local":
        return LocalStateStore(settings.deploy_state_dir)
    if not settings.deploy_state_bucket:
        raise SettingsError(
            "invalid settings: SLIPWAY_DEPLOY_STATE_BUCKET: required when "
            "SLIPWAY_DEPLOY_STATE is s3"
        )
    from foundation.aws import boto3_clients
    from model_deploy.store.s3 import S3StateStore

    return S3StateStore(
        clients=boto3_clients(region=settings.aws_region, endpoint_url=settings.aws_endpoint_url),
        bucket=settings.deploy_state_bucket,
        prefix=settings.deploy_state_prefix,
    )
