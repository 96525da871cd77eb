"""What the deployer uses when it is given nothing: registries, targets, the manifests' commit."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from foundation.settings import load_settings
from model_deploy.settings import DeploySettings

if TYPE_CHECKING:
    from model_build.registry.protocol import ModelRegistry
    from model_deploy.targets.protocol import DeployTarget, TargetKind


def manifests_commit(settings: DeploySettings) -> str:
    """Commit of the manifest repo (settings, else ``git rev-parse HEAD``, else ``unknown``)."""
    if settings.git_sha:
        return settings.git_sha
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.deploy_manifests_dir,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def default_registry(kind: str) -> ModelRegistry:
    """``model_build``'s registry of ``kind`` (``local`` or ``sagemaker``), from its settings."""
    from model_build.registry.factory import open_registry
    from model_build.settings import BuildSettings

    settings = load_settings(BuildSettings)  # the environment is checked even when kind differs
    return open_registry(settings.model_copy(update={"registry": kind}))


def default_target(kind: TargetKind, settings: DeploySettings) -> DeployTarget:
    """The deploy target of ``kind`` built from the deploy settings."""
    if kind == "local":
        from model_deploy.targets.local import LocalTarget

        return LocalTarget(
            state_dir=settings.deploy_state_dir,
            server_command=settings.deploy_server_command,
            health_timeout=settings.deploy_health_timeout,
        )
    from foundation.aws import boto3_clients
    from model_deploy.targets.sagemaker import SageMakerTarget

    return SageMakerTarget(
        clients=boto3_clients(region=settings.aws_region, endpoint_url=settings.aws_endpoint_url),
        wait_timeout=settings.deploy_wait_timeout,
        poll_seconds=settings.deploy_poll_seconds,
    )
