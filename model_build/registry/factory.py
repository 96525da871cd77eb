"""Open the configured model registry."""

from __future__ import annotations

from model_build.errors import RegistryError
from model_build.registry.protocol import ModelRegistry
from model_build.settings import BuildSettings, load_settings


def open_registry(settings: BuildSettings | None = None) -> ModelRegistry:
    """Open the registry the settings name (``SLIPWAY_REGISTRY``, default ``local``).

    A ``LocalRegistry`` at ``registry_path`` or a ``SageMakerRegistry``; the settings are read from
    the environment when None. No network call is made here: the SageMaker registry creates its
    AWS clients on first use.

    Raises:
        SettingsError: A variable is invalid.
        RegistryError: ``sagemaker`` is selected but the bucket or image is not set.
    """
    settings = settings or load_settings()
    if settings.registry == "local":
        from model_build.registry.local import LocalRegistry

        return LocalRegistry(settings.registry_path)
    missing = [
        f"SLIPWAY_{name.upper()}"
        for name in ("s3_bucket", "image_uri")
        if not getattr(settings, name)
    ]
    if missing or settings.s3_bucket is None or settings.image_uri is None:
        raise RegistryError(f"the sagemaker registry needs {' and '.join(missing)} to be set")
    from model_build.registry.sagemaker import SageMakerRegistry

    return SageMakerRegistry(
        s3_bucket=settings.s3_bucket,
        s3_prefix=settings.s3_prefix,
        image_uri=settings.image_uri,
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
    )
