"""Put a compiled pipeline into SageMaker and start it (boto3 through :mod:`foundation.aws`).

:func:`upload_code` and :func:`upload_feature_repo` place the job scripts, ``model.yaml`` and the
Feast repo where the definition expects them; :func:`ensure_model_package_group` makes the group
the RegisterModel step writes into; :func:`upsert_and_start` creates or updates the pipeline and
starts an execution. Every call goes through one :class:`~foundation.aws.AwsCalls` (see
:func:`pipeline_calls`), so an AWS failure is a ``PipelineError`` naming the operation. Works
against AWS or a moto server (``endpoint_url``, or boto3's own ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.aws import AwsCalls, ClientFactory, boto3_clients
from model_build.errors import PipelineError
from model_build.registry.groups import ensure_group
from model_build.sagemaker.compile import code_files, definition_json

if TYPE_CHECKING:
    from model_build.definition.schema import ModelDefinition

#: Files of a Feast repo that the PrepareData job needs (local stores are rebuilt there).
REPO_PATTERNS: Final = ("*.py", "*.yaml", "expectations/*.json", "data/*.parquet")


@dataclass(frozen=True)
class PipelineRun:
    """A started pipeline execution.

    Attributes:
        pipeline_arn: The pipeline's ARN.
        execution_arn: The execution's ARN.
        created: True if the pipeline was created, False if it was updated.
        status: Execution status right after starting (``Executing``, ``Succeeded`` on moto).
    """

    pipeline_arn: str
    execution_arn: str
    created: bool
    status: str


def pipeline_calls(
    *, region: str, endpoint_url: str | None = None, factory: ClientFactory | None = None
) -> AwsCalls:
    """The AWS calls of the pipeline client: clients made on first use, failures ``PipelineError``.

    ``factory`` defaults to :func:`foundation.aws.boto3_clients` on ``region`` and
    ``endpoint_url`` (a moto server, or None for AWS).
    """
    return AwsCalls(
        factory or boto3_clients(region=region, endpoint_url=endpoint_url), error=PipelineError
    )


def upload_code(*, aws: AwsCalls, bucket: str, model: ModelDefinition) -> list[str]:
    """Upload the job scripts and ``model.yaml`` to ``s3://<bucket>/<prefix>/code/``.

    ``model`` is the model definition the pipeline was compiled from (and an entry point's
    code beside it, see :func:`~model_build.sagemaker.compile.code_files`). Returns the URIs.
    """
    uris = []
    for name, body in sorted(code_files(model).items()):
        key = f"{model.sagemaker.prefix}/code/{name}"
        aws.call("s3", "put_object", Bucket=bucket, Key=key, Body=body)
        uris.append(f"s3://{bucket}/{key}")
    return uris


def upload_feature_repo(
    *, aws: AwsCalls, bucket: str, model: ModelDefinition, repo_path: Path
) -> list[str]:
    """Upload the Feast repo (definitions, configs, suites, Parquet data) for PrepareData.

    Returns the uploaded S3 URIs.

    Raises:
        PipelineError: The folder holds no repo files, or an upload failed.
    """
    files = sorted({p for pattern in REPO_PATTERNS for p in repo_path.glob(pattern) if p.is_file()})
    if not files:
        raise PipelineError(f"{repo_path}: no feature repo files to upload")
    prefix = f"{model.sagemaker.prefix}/feature_repo"
    return [
        aws.upload_file(
            path, bucket=bucket, key=f"{prefix}/{path.relative_to(repo_path).as_posix()}"
        )
        for path in files
    ]


def ensure_model_package_group(*, aws: AwsCalls, model_name: str) -> str:
    """Make sure the model's package group exists; return its name.

    The one race-safe implementation, shared with the registry:
    :func:`model_build.registry.groups.ensure_group`.

    Raises:
        PipelineError: AWS refused.
        RegistryError: The group holds another model.
    """
    return ensure_group(aws, model_name=model_name).name


def upsert_and_start(
    *,
    aws: AwsCalls,
    definition: dict[str, Any],
    name: str,
    role_arn: str,
    parameters: dict[str, str] | None = None,
    description: str = "Slipway model build",
) -> PipelineRun:
    """Create or update pipeline ``name``, then start an execution with ``parameters``.

    ``definition`` is the compiled definition (see ``compile_pipeline``); ``role_arn`` the role
    SageMaker Pipelines assumes; ``parameters`` the pipeline parameter values (``GitSha``,
    ``ServingMetrics``...), each of which the definition must declare.

    Raises:
        PipelineError: An unknown parameter (before any call), or SageMaker refused the
            definition or the start; the message says which.
    """
    body = definition_json(definition)
    declared = {p["Name"] for p in definition.get("Parameters", [])}
    unknown = sorted(set(parameters or {}) - declared)
    if unknown:
        raise PipelineError(
            f"pipeline {name}: unknown parameter(s) {', '.join(unknown)} "
            f"(declared: {', '.join(sorted(declared))})"
        )
    args = {
        "PipelineName": name,
        "PipelineDefinition": body,
        "PipelineDescription": description,
        "RoleArn": role_arn,
    }
    try:
        created = aws.call_or_none("sagemaker", "describe_pipeline", PipelineName=name) is None
        operation = "create_pipeline" if created else "update_pipeline"
        arn = aws.call("sagemaker", operation, **args)["PipelineArn"]
    except PipelineError as exc:
        raise PipelineError(f"pipeline {name}: upsert failed: {exc}") from exc
    try:
        started = aws.call(
            "sagemaker",
            "start_pipeline_execution",
            PipelineName=name,
            PipelineParameters=[
                {"Name": key, "Value": value} for key, value in sorted((parameters or {}).items())
            ],
        )
        execution_arn = started["PipelineExecutionArn"]
        described = aws.call(
            "sagemaker", "describe_pipeline_execution", PipelineExecutionArn=execution_arn
        )
    except PipelineError as exc:
        raise PipelineError(f"pipeline {name}: start failed: {exc}") from exc
    return PipelineRun(
        pipeline_arn=str(arn),
        execution_arn=str(execution_arn),
        created=created,
        status=str(described["PipelineExecutionStatus"]),
    )


def describe_definition(*, aws: AwsCalls, name: str) -> dict[str, Any]:
    """The definition SageMaker holds for pipeline ``name`` (parsed JSON).

    Raises:
        PipelineError: No such pipeline, or AWS failed.
    """
    described = aws.call(
        "sagemaker", "describe_pipeline", not_found=f"pipeline {name} not found", PipelineName=name
    )
    document: dict[str, Any] = json.loads(described["PipelineDefinition"])
    return document
