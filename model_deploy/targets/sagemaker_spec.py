"""Pure builders for the SageMaker target: resource names, tags, request bodies, state parsing."""

from __future__ import annotations

from typing import Any

from model_deploy.errors import TargetError
from model_deploy.manifest.model import Canary, Linear, Manifest, SageMakerTargetSpec
from model_deploy.targets.protocol import ActualState, DeployRequest, describe_strategy

TAG_PREFIX = "slipway:"
TAG_ENV = "slipway:env"
TAG_MODEL = "slipway:model"
TAG_VERSION = "slipway:version"
TAG_DIGEST = "slipway:artifact-digest"
TAG_MANIFEST = "slipway:manifest-hash"
TAG_GIT = "slipway:git-sha"
TAG_MODEL_GIT = "slipway:model-git-sha"
TAG_STRATEGY = "slipway:strategy"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def spec_of(manifest: Manifest) -> SageMakerTargetSpec:
    """The manifest's SageMaker target settings.

    Raises:
        TargetError: The manifest's target is not ``sagemaker``.
    """
    if not isinstance(manifest.target, SageMakerTargetSpec):
        raise TargetError(f"{manifest.environment}: the manifest's target is not sagemaker")
    return manifest.target


def resource_name(*, endpoint: str, version: int, manifest_hash: str) -> str:
    """``<endpoint>-v<version>-<8 hex of the manifest hash>``, at most 63 characters.

    The model and the endpoint config of one deployment share it.
    """
    suffix = f"-v{version}-{manifest_hash.removeprefix('sha256:')[:8]}"
    return endpoint[: 63 - len(suffix)].rstrip("-") + suffix


def deployment_tags(request: DeployRequest) -> list[dict[str, str]]:
    """Tags recording what a deployment is (on the endpoint config and the endpoint)."""
    version = request.version
    pairs = {
        TAG_ENV: request.env,
        TAG_MODEL: version.model_name,
        TAG_VERSION: str(version.version),
        TAG_DIGEST: version.artifact_digest,
        TAG_MANIFEST: request.manifest_hash,
        TAG_GIT: request.git_sha,
        TAG_MODEL_GIT: version.git_sha,
        TAG_STRATEGY: describe_strategy(request.manifest),
    }
    return [{"Key": key, "Value": value[:256]} for key, value in pairs.items()]


def primary_container(request: DeployRequest) -> dict[str, Any]:
    """``PrimaryContainer`` of ``create_model``: the model package, else image + data.

    Raises:
        TargetError: Neither a model package ARN nor an image and ``s3://`` artifact exist.
    """
    version = request.version
    if version.arn and ":model-package/" in version.arn:
        return {"ModelPackageName": version.arn}
    image = spec_of(request.manifest).image_uri
    if image is None or not version.artifact_uri.startswith("s3://"):
        raise TargetError(
            f"{version.model_name}:{version.version} has no SageMaker model package; the "
            "sagemaker target then needs target.image_uri and an s3:// artifact"
        )
    return {"Image": image, "ModelDataUrl": version.artifact_uri}


def endpoint_config_request(*, request: DeployRequest, name: str) -> dict[str, Any]:
    """Arguments of ``create_endpoint_config`` named ``name`` (variant, data capture, tags)."""
    spec = spec_of(request.manifest)
    body: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": spec.variant_name,
                "ModelName": name,
                "InstanceType": spec.instance_type,
                "InitialInstanceCount": spec.instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
        "Tags": deployment_tags(request),
    }
    capture = request.manifest.data_capture
    if capture.sampling_percentage > 0 and capture.destination:
        body["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": capture.sampling_percentage,
            "DestinationS3Uri": capture.destination,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        }
    return body


def deployment_config(manifest: Manifest) -> dict[str, Any]:
    """``DeploymentConfig`` of ``update_endpoint``: blue/green routing plus alarm rollback."""
    strategy = manifest.strategy
    routing: dict[str, Any]
    total_wait = 0
    if isinstance(strategy, Canary):
        wait = round(strategy.bake_minutes * 60)
        routing = {
            "Type": "CANARY",
            "WaitIntervalInSeconds": wait,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": strategy.percent},
        }
        total_wait = wait
    elif isinstance(strategy, Linear):
        wait = round(strategy.interval_minutes * 60)
        routing = {
            "Type": "LINEAR",
            "WaitIntervalInSeconds": wait,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": strategy.step_percent},
        }
        total_wait = wait * -(-100 // strategy.step_percent)
    else:
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": min(28800, max(600, total_wait + 3600)),
        }
    }
    if manifest.rollback_alarms:
        config["AutoRollbackConfiguration"] = {
            "Alarms": [{"AlarmName": name} for name in manifest.rollback_alarms]
        }
    return config


def read_actual(
    *,
    env: str,
    endpoint: dict[str, Any],
    config: dict[str, Any],
    config_tags: dict[str, str],
    endpoint_tags: dict[str, str],
    bounds: tuple[int, int] | None,
    variant: str,
) -> ActualState:
    """The actual state from ``describe_endpoint``, its config, their tags and autoscaling.

    The version, digest and manifest hash come from the endpoint config's tags (written once,
    with the config); the instance count is the one running, so a console change shows. Notes
    name anything changed outside slipway. ``settings`` holds the keys of
    ``SageMakerTargetSpec.settings()``; ``bounds`` is the autoscaling (min, max), if any.
    """
    name = str(endpoint.get("EndpointName"))
    config_name = str(endpoint["EndpointConfigName"])
    live = variant_of(endpoint.get("ProductionVariants") or [], variant)
    configured = variant_of(config.get("ProductionVariants") or [], variant)
    configured_count = configured.get("InitialInstanceCount")
    count = live.get("CurrentInstanceCount", live.get("DesiredInstanceCount", configured_count))
    capture = config.get("DataCaptureConfig") or {}
    notes: list[str] = []
    if TAG_VERSION not in config_tags:
        notes.append(f"endpoint config {config_name} was not created by slipway")
    elif endpoint_tags.get(TAG_MANIFEST, config_tags.get(TAG_MANIFEST)) != (
        config_tags.get(TAG_MANIFEST)
    ):
        notes.append(f"endpoint config {config_name} was switched outside slipway")
    if count is not None and configured_count is not None and count != configured_count:
        notes.append(
            f"{count} instances run but endpoint config {config_name} says "
            f"{configured_count} (changed outside slipway)"
        )
    status = str(endpoint.get("EndpointStatus", "Unknown"))
    if status != "InService":
        notes.append(f"endpoint status is {status}: {endpoint.get('FailureReason', '')}".strip())
    model_name, version = config_tags.get(TAG_MODEL), int_tag(config_tags, TAG_VERSION)
    return ActualState(
        env=env,
        target="sagemaker",
        deployed=True,
        healthy=status == "InService",
        model_name=model_name,
        version=version,
        artifact_digest=config_tags.get(TAG_DIGEST),
        manifest_hash=config_tags.get(TAG_MANIFEST),
        git_sha=config_tags.get(TAG_GIT),
        endpoint=name,
        traffic=_traffic(endpoint.get("ProductionVariants") or [], model_name, version),
        data_capture_percentage=(
            int(capture.get("InitialSamplingPercentage", 0)) if capture.get("EnableCapture") else 0
        ),
        strategy=config_tags.get(TAG_STRATEGY),
        settings={
            "instance_type": str(configured.get("InstanceType") or "-"),
            "instance_count": "-" if count is None else str(count),
            "autoscaling": f"{bounds[0]}-{bounds[1]}" if bounds else "-",
        },
        notes=notes,
        details={"endpoint_config": config_name, "status": status},
    )


def scaling_bounds_of(state: ActualState) -> tuple[int, int] | None:
    """The autoscaling (min, max) :func:`read_actual` recorded, or None without autoscaling."""
    low, _, high = state.settings.get("autoscaling", "-").partition("-")
    return (int(low), int(high)) if low.isdigit() and high.isdigit() else None


def _traffic(
    variants: list[dict[str, Any]], model_name: str | None, version: int | None
) -> dict[str, float]:
    """Percent of requests per variant: the model reference when the config names one version."""
    weights = {
        str(v.get("VariantName")): float(v.get("CurrentWeight", v.get("DesiredWeight", 1.0)))
        for v in variants
    }
    total = sum(weights.values())
    if total <= 0:
        return {}
    ref = f"{model_name}:{version}" if model_name and version is not None else None
    if ref is not None and len(weights) == 1:
        return {ref: 100.0}
    return {name: round(100 * weight / total, 2) for name, weight in weights.items()}


def tag_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    """Tags (``[{"Key": ..., "Value": ...}]``) as a dict; the last of a repeated key wins."""
    return {tag["Key"]: tag["Value"] for tag in tags}


def variant_of(variants: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The named production variant, else the first one, else an empty dict."""
    for variant in variants:
        if variant.get("VariantName") == name:
            return variant
    return variants[0] if variants else {}


def int_tag(tags: dict[str, str], key: str) -> int | None:
    """An integer tag value, or None when it is missing or not an integer."""
    try:
        return int(tags[key])
    except (KeyError, ValueError):
        return None
