"""Start a build on SageMaker: compile, upload, make the group, upsert the pipeline, start it.

:func:`launch_build` is the whole sequence ``slipway build run --sagemaker`` runs. The version
the gate compares with travels to the Evaluate job as the ``ServingMetrics`` parameter, written
by :func:`serving_parameter` and read back by :func:`parse_serving`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from model_build.errors import PipelineError
from model_build.pipeline.steps.gate import Baseline, NoServingModel

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from model_build.definition.schema import ModelDefinition
    from model_build.pipeline.serving import ServingModel
    from model_build.sagemaker.client import PipelineRun
    from model_build.settings import BuildSettings

_ENVIRONMENT_BEFORE_ENV_KEY: Final = "prod"
"""Where the serving version of a ``ServingMetrics`` value without ``env`` served (older CLIs)."""
_NO_SERVING: Final = NoServingModel(reason="no serving version was passed (ServingMetrics {})")


@dataclass(frozen=True)
class Target:
    """Where the pipeline runs and what it runs as.

    Attributes:
        bucket: S3 bucket for code, the feature repo and step outputs.
        role_arn: IAM role the pipeline and its jobs run as.
        image_uri: Slipway image (ECR URI) the jobs and the model run in.
        region: AWS region.
    """

    bucket: str
    role_arn: str
    image_uri: str
    region: str


@dataclass(frozen=True)
class Launched:
    """A started SageMaker build: the files uploaded and the execution."""

    uploaded: list[str]
    run: PipelineRun


def launch_build(
    *,
    model: ModelDefinition,
    target: Target,
    repo_path: Path,
    serving: ServingModel | NoServingModel,
    git_commit: str,
    now: datetime | None = None,
    endpoint_url: str | None = None,
) -> Launched:
    """Start a build on SageMaker and return what was uploaded and started.

    The pipeline is compiled, its code and the Feast repo uploaded, the model's group made sure
    of, then the pipeline created or updated and an execution started.

    ``serving`` becomes the ``ServingMetrics`` parameter (none for a :class:`NoServingModel`);
    ``now`` the data gate's clock (``DataGateTime``, ``now`` when None); ``endpoint_url`` is
    for a moto server.

    Raises:
        PipelineError: An upload, the upsert or the start failed.
        RegistryError: The model's group holds another model.
    """
    from model_build.pipeline.serving import ServingModel
    from model_build.sagemaker.client import (
        ensure_model_package_group,
        pipeline_calls,
        upload_code,
        upload_feature_repo,
        upsert_and_start,
    )
    from model_build.sagemaker.compile import compile_pipeline

    definition = compile_pipeline(
        model=model,
        bucket=target.bucket,
        role_arn=target.role_arn,
        image_uri=target.image_uri,
        region=target.region,
    )
    aws = pipeline_calls(region=target.region, endpoint_url=endpoint_url)
    uploaded = upload_code(aws=aws, bucket=target.bucket, model=model)
    uploaded += upload_feature_repo(aws=aws, bucket=target.bucket, model=model, repo_path=repo_path)
    ensure_model_package_group(aws=aws, model_name=model.name)
    parameters = {"GitSha": git_commit, "DataGateTime": now.isoformat() if now else "now"}
    if isinstance(serving, ServingModel):
        parameters["ServingMetrics"] = serving_parameter(
            ref=serving.version.ref,
            metrics=serving.version.metrics,
            keep=list(model.gate.serving_tolerance),
            environment=serving.environment,
        )
    run = upsert_and_start(
        aws=aws,
        definition=definition,
        name=model.sagemaker.pipeline_name,
        role_arn=target.role_arn,
        parameters=parameters,
    )
    return Launched(uploaded=uploaded, run=run)


def resolve_target(
    settings: BuildSettings,
    *,
    bucket: str | None,
    role_arn: str | None,
    image_uri: str | None,
    region: str | None,
    required: bool = False,
) -> Target:
    """The target from explicit values, else ``settings``, else example placeholders.

    With ``required`` (a real launch) bucket, role and image must be given (no placeholders).

    Raises:
        PipelineError: ``required`` and one of them is missing; the message names the options.
    """
    from model_build.sagemaker.compile import PLACEHOLDERS

    chosen = {
        "bucket": bucket or settings.s3_bucket,
        "role_arn": role_arn,
        "image_uri": image_uri or settings.image_uri,
    }
    missing = [name for name, value in chosen.items() if not value]
    if required and missing:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in missing)
        raise PipelineError(f"--sagemaker needs {flags} (or their environment variables)")
    resolved = {name: value or PLACEHOLDERS[name] for name, value in chosen.items()}
    return Target(**resolved, region=region or settings.aws_region)


def serving_parameter(
    *, ref: str, metrics: dict[str, float], keep: list[str], environment: str
) -> str:
    """Encode the serving version for the ``ServingMetrics`` parameter (short, sorted JSON).

    ``ref`` is ``<model>:<version>`` serving in ``environment``; only the ``metrics`` named in
    ``keep`` (those with a serving tolerance) are passed, rounded to 6 digits, so a few metrics
    stay within the 256-character container argument limit.
    """
    chosen = {k: round(float(metrics[k]), 6) for k in sorted(keep) if k in metrics}
    document = {"env": environment, "ref": ref, "metrics": chosen}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def parse_serving(text: str) -> Baseline | NoServingModel:
    """Read the ``ServingMetrics`` parameter back as the gate's baseline.

    ``{}`` (or empty text) means no serving version: an explicit :class:`NoServingModel`.

    Raises:
        PipelineError: The text is not that JSON shape.
    """
    try:
        raw = json.loads(text or "{}")
        if not raw:
            return _NO_SERVING
        metrics = {str(k): float(v) for k, v in dict(raw["metrics"]).items()}
        environment = str(raw.get("env") or _ENVIRONMENT_BEFORE_ENV_KEY)
        return Baseline(
            ref=str(raw["ref"]), metrics=metrics, source="registry", environment=environment
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise PipelineError(f"evaluate: invalid serving metrics {text!r}: {exc}") from exc
