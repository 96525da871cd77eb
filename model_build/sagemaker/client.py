"""Put a compiled pipeline into SageMaker and start it (plain boto3, no SDK session).

:func:`upload_code` and :func:`upload_feature_repo` place the job scripts, ``params.yaml`` and the
Feast repo where the definition expects them; :func:`upsert_and_start` creates or updates the
pipeline and starts an execution. Works against AWS or a moto server (``endpoint_url`` or
``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from model_build.errors import PipelineError
from model_build.registry.sagemaker_metadata import group_description, group_name
from model_build.sagemaker.compile import code_files, definition_json

if TYPE_CHECKING:
    from model_build.pipeline.params import BuildParams

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


def make_clients(
    *, boto_session: Any | None = None, region: str | None = None, endpoint_url: str | None = None
) -> tuple[Any, Any]:
    """Create the ``sagemaker`` and ``s3`` clients.

    Args:
        boto_session: A ``boto3.Session``; a default one when None.
        region: Region name (overrides the session's).
        endpoint_url: Endpoint of both services (a moto server), or None for AWS.

    Returns:
        ``(sagemaker_client, s3_client)``.
    """
    import boto3

    session = boto_session or boto3.Session(region_name=region)
    kwargs: dict[str, Any] = {"region_name": region or session.region_name}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return session.client("sagemaker", **kwargs), session.client("s3", **kwargs)


def upload_code(*, s3: Any, bucket: str, params: BuildParams) -> list[str]:
    """Upload the job scripts and ``params.yaml`` to ``s3://<bucket>/<prefix>/code/``.

    Args:
        s3: An S3 client.
        bucket: Artifact bucket.
        params: The parameters the definition was compiled from.

    Returns:
        The uploaded S3 URIs.
    """
    uris = []
    for name, body in sorted(code_files(params).items()):
        key = f"{params.sagemaker.prefix}/code/{name}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        uris.append(f"s3://{bucket}/{key}")
    return uris


def upload_feature_repo(*, s3: Any, bucket: str, params: BuildParams, repo_path: Path) -> list[str]:
    """Upload the Feast repo (definitions, configs, suites, Parquet data) for PrepareData.

    Args:
        s3: An S3 client.
        bucket: Artifact bucket.
        params: Build parameters (for the prefix).
        repo_path: The repo folder.

    Returns:
        The uploaded S3 URIs.

    Raises:
        PipelineError: The folder holds no repo files.
    """
    files = sorted({p for pattern in REPO_PATTERNS for p in repo_path.glob(pattern) if p.is_file()})
    if not files:
        raise PipelineError(f"{repo_path}: no feature repo files to upload")
    uris = []
    for path in files:
        key = f"{params.sagemaker.prefix}/feature_repo/{path.relative_to(repo_path).as_posix()}"
        s3.upload_file(str(path), bucket, key)
        uris.append(f"s3://{bucket}/{key}")
    return uris


def ensure_model_package_group(*, sagemaker: Any, model_name: str) -> str:
    """Create the model's package group (with Slipway's description) unless it exists.

    Args:
        sagemaker: A SageMaker client.
        model_name: Registry model name.

    Returns:
        The group name.
    """
    from botocore.exceptions import ClientError

    group = group_name(model_name)
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription=group_description(model_name),
        )
    return group


def upsert_and_start(
    *,
    definition: dict[str, Any],
    name: str,
    role_arn: str,
    parameters: dict[str, str] | None = None,
    description: str = "Slipway model build",
    sagemaker: Any | None = None,
    boto_session: Any | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> PipelineRun:
    """Create or update the pipeline, then start an execution.

    Args:
        definition: The compiled definition (see ``compile_pipeline``).
        name: Pipeline name.
        role_arn: Role SageMaker Pipelines assumes.
        parameters: Pipeline parameter values (``GitSha``, ``ServingMetrics``, ...).
        description: Pipeline description.
        sagemaker: A SageMaker client; created from the session/region/endpoint when None.
        boto_session: ``boto3.Session`` for a new client.
        region: Region for a new client.
        endpoint_url: Endpoint for a new client (a moto server).

    Returns:
        The started run.

    Raises:
        PipelineError: SageMaker refused the definition or the start; the message says which.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    client = (
        sagemaker
        or make_clients(boto_session=boto_session, region=region, endpoint_url=endpoint_url)[0]
    )
    body = definition_json(definition)
    declared = {p["Name"] for p in definition.get("Parameters", [])}
    unknown = sorted(set(parameters or {}) - declared)
    if unknown:
        raise PipelineError(
            f"pipeline {name}: unknown parameter(s) {', '.join(unknown)} "
            f"(declared: {', '.join(sorted(declared))})"
        )
    try:
        created = not _exists(client, name)
        args = {
            "PipelineName": name,
            "PipelineDefinition": body,
            "PipelineDescription": description,
            "RoleArn": role_arn,
        }
        if created:
            arn = client.create_pipeline(**args)["PipelineArn"]
        else:
            arn = client.update_pipeline(**args)["PipelineArn"]
    except (ClientError, BotoCoreError) as exc:
        raise PipelineError(f"pipeline {name}: upsert failed: {exc}") from exc
    try:
        started = client.start_pipeline_execution(
            PipelineName=name,
            PipelineParameters=[
                {"Name": key, "Value": value} for key, value in sorted((parameters or {}).items())
            ],
        )
        execution_arn = started["PipelineExecutionArn"]
        status = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)[
            "PipelineExecutionStatus"
        ]
    except (ClientError, BotoCoreError) as exc:
        raise PipelineError(f"pipeline {name}: start failed: {exc}") from exc
    return PipelineRun(
        pipeline_arn=str(arn), execution_arn=str(execution_arn), created=created, status=str(status)
    )


def _exists(client: Any, name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.describe_pipeline(PipelineName=name)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("ResourceNotFound", "ValidationException", "ResourceNotFoundException"):
            return False
        raise
    return True


def describe_definition(*, sagemaker: Any, name: str) -> dict[str, Any]:
    """The definition SageMaker holds for a pipeline (parsed JSON).

    Args:
        sagemaker: A SageMaker client.
        name: Pipeline name.

    Returns:
        The definition.
    """
    described = sagemaker.describe_pipeline(PipelineName=name)
    document: dict[str, Any] = json.loads(described["PipelineDefinition"])
    return document
