"""``slipway build run --sagemaker`` and ``upsert_and_start`` against a moto server on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from foundation.aws import AwsCalls
from model_build.definition.catalog import MODELS_DIR
from model_build.definition.loader import load_definition
from model_build.definition.schema import ModelDefinition
from model_build.errors import BuildError, PipelineError, RegistryError
from model_build.sagemaker.client import (
    describe_definition,
    ensure_model_package_group,
    pipeline_calls,
    upload_code,
    upsert_and_start,
)
from model_build.sagemaker.compile import compile_pipeline
from slipway.cli.build import build_app

pytestmark = pytest.mark.integration

BUCKET = "slipway-artifacts"
ROLE = "arn:aws:iam::123456789012:role/slipway-sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway:0.1.0"
FEATURE_REPO = Path(__file__).resolve().parents[2] / "feature_repo"


def load_params() -> ModelDefinition:
    """The checked-in driver ranking definition."""
    return load_definition(path=MODELS_DIR / "driver_ranking")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def calls(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    """Fake credentials, a clean moto with the artifact bucket, and the pipeline client's calls."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    calls = pipeline_calls(region="us-east-1", endpoint_url=moto_url)
    calls.client("s3").create_bucket(Bucket=BUCKET)
    return calls


@pytest.fixture
def aws(calls: AwsCalls) -> tuple[Any, Any]:
    """The raw (sagemaker, s3) clients behind ``calls``, to look at what was stored."""
    return calls.client("sagemaker"), calls.client("s3")


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return compile_pipeline(
        model=load_params(), bucket=BUCKET, role_arn=ROLE, image_uri=IMAGE, region="us-east-1"
    )


def test_upsert_then_update_and_start(
    calls: AwsCalls, aws: tuple[Any, Any], definition: dict[str, Any]
) -> None:
    sagemaker, s3 = aws
    params = load_params()
    name = params.sagemaker.pipeline_name
    uploaded = upload_code(aws=calls, bucket=BUCKET, model=params)
    assert len(uploaded) == 4
    body = s3.get_object(Bucket=BUCKET, Key=f"{params.sagemaker.prefix}/code/model.yaml")
    text = body["Body"].read().decode()
    assert "task: binary" in text
    assert "roc_auc: 0.75" in text

    first = upsert_and_start(
        aws=calls,
        definition=definition,
        name=name,
        role_arn=ROLE,
        parameters={"GitSha": "abc123", "ServingMetrics": "{}"},
    )
    assert first.created
    assert first.pipeline_arn.endswith(f":pipeline/{name}")
    assert first.status in {"Executing", "Succeeded"}
    stored = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=first.execution_arn
    )["PipelineParameters"]
    assert {p["Name"]: p["Value"] for p in stored}["GitSha"] == "abc123"

    second = upsert_and_start(aws=calls, definition=definition, name=name, role_arn=ROLE)
    assert not second.created
    assert second.execution_arn != first.execution_arn
    assert describe_definition(aws=calls, name=name) == definition
    executions = sagemaker.list_pipeline_executions(PipelineName=name)
    assert len(executions["PipelineExecutionSummaries"]) == 2


def test_unknown_parameter_is_refused_before_any_call(
    calls: AwsCalls, aws: tuple[Any, Any], definition: dict[str, Any]
) -> None:
    sagemaker, _ = aws
    with pytest.raises(PipelineError, match=r"unknown parameter.*Treshold"):
        upsert_and_start(
            aws=calls,
            definition=definition,
            name="slipway-model-build",
            role_arn=ROLE,
            parameters={"Treshold": "1"},
        )
    assert sagemaker.list_pipelines()["PipelineSummaries"] == []


def test_aws_failures_are_pipeline_errors_naming_the_operation(calls: AwsCalls) -> None:
    with pytest.raises(PipelineError, match="pipeline nope not found"):
        describe_definition(aws=calls, name="nope")
    with pytest.raises(PipelineError, match="put_object failed"):
        upload_code(aws=calls, bucket="no-such-bucket", model=load_params())


def test_model_package_group_is_created_once(calls: AwsCalls, aws: tuple[Any, Any]) -> None:
    sagemaker, _ = aws
    assert ensure_model_package_group(aws=calls, model_name="driver_ranking") == "driver-ranking"
    ensure_model_package_group(aws=calls, model_name="driver_ranking")
    group = sagemaker.describe_model_package_group(ModelPackageGroupName="driver-ranking")
    assert group["ModelPackageGroupDescription"] == "Slipway model driver_ranking"
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["driver-ranking"]
    with pytest.raises(RegistryError, match="belongs to model 'driver_ranking'"):
        ensure_model_package_group(aws=calls, model_name="driver-ranking")


def test_losing_the_race_to_create_the_group_is_success(calls: AwsCalls) -> None:
    """Another build creates the group between our look and our create: not an error."""
    sagemaker = calls.client("sagemaker")

    class RacedClient:
        def __getattr__(self, name: str) -> Any:
            return getattr(sagemaker, name)

        def create_model_package_group(self, **kwargs: Any) -> Any:
            sagemaker.create_model_package_group(**kwargs)  # the other build wins
            from botocore.exceptions import ClientError

            error = {"Code": "ValidationException", "Message": "Model Package Group already exists"}
            raise ClientError({"Error": error}, "CreateModelPackageGroup")

    raced = pipeline_calls(region="us-east-1", factory=lambda service: RacedClient())
    assert ensure_model_package_group(aws=raced, model_name="driver_ranking") == "driver-ranking"

    class RefusingClient(RacedClient):
        def create_model_package_group(self, **kwargs: Any) -> Any:
            from botocore.exceptions import ClientError

            error = {"Code": "AccessDeniedException", "Message": "not allowed"}
            raise ClientError({"Error": error}, "CreateModelPackageGroup")

    refused = pipeline_calls(region="us-east-1", factory=lambda service: RefusingClient())
    with pytest.raises(BuildError, match="AccessDeniedException"):
        ensure_model_package_group(aws=refused, model_name="churn")


def test_cli_run_sagemaker_uploads_upserts_and_starts(
    aws: tuple[Any, Any], moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sagemaker, s3 = aws
    repo = tmp_path / "feature_repo"
    shutil.copytree(FEATURE_REPO, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    (repo / "data").mkdir()
    (repo / "data" / "trips.parquet").write_bytes(b"PAR1 stand-in")
    (repo / "data" / "registry.db").write_bytes(b"local state, not uploaded")
    monkeypatch.setenv("SLIPWAY_AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("SLIPWAY_AWS_REGION", "us-east-1")
    monkeypatch.setenv("SLIPWAY_SAGEMAKER_ROLE_ARN", ROLE)
    args = ["run", "--sagemaker", "--repo", str(repo), "--registry-path", str(tmp_path / "reg")]
    args += ["--model", "driver_ranking"]
    args += ["--prod-manifest", str(tmp_path / "absent.yaml"), "--bucket", BUCKET]
    args += ["--image-uri", IMAGE]
    outcome = CliRunner().invoke(build_app, args)
    assert outcome.exit_code == 0, outcome.output
    started = json.loads(outcome.stdout.strip().splitlines()[-1])
    params = load_params()
    execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=started["execution_arn"])
    assert execution["PipelineArn"] == started["pipeline_arn"]
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=params.sagemaker.prefix)
    keys = {item["Key"].removeprefix(params.sagemaker.prefix + "/") for item in listed["Contents"]}
    assert {"code/prepare.py", "code/train.py", "code/evaluate.py", "code/model.yaml"} <= keys
    assert {"feature_repo/definitions.py", "feature_repo/feature_store.yaml"} <= keys
    assert {"feature_repo/expectations/trips.json", "feature_repo/data/trips.parquet"} <= keys
    assert "feature_repo/data/registry.db" not in keys
    assert sagemaker.describe_model_package_group(ModelPackageGroupName="driver-ranking")
    stored = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=started["execution_arn"]
    )["PipelineParameters"]
    values = {p["Name"]: p["Value"] for p in stored}
    assert values["DataGateTime"] == "now"
    assert len(values["GitSha"]) == 40 or values["GitSha"] == "unknown"


def test_cli_run_sagemaker_needs_bucket_role_and_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLIPWAY_S3_BUCKET", "SLIPWAY_IMAGE_URI", "SLIPWAY_SAGEMAKER_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    args = ["run", "--sagemaker", "--registry-path", str(tmp_path / "reg")]
    args += ["--prod-manifest", str(tmp_path / "absent.yaml")]
    outcome = CliRunner().invoke(build_app, args)
    assert outcome.exit_code != 0
    said = " ".join(outcome.output.split())
    assert "--bucket, --role-arn, --image-uri" in said


def _resolve(expr: Any, values: dict[str, Any]) -> Any:
    """Evaluate the pipeline expressions the RegisterModel step uses (Get, Join, JsonGet)."""
    if isinstance(expr, dict) and "Get" in expr:
        return values[expr["Get"]]
    if isinstance(expr, dict) and "Std:Join" in expr:
        join = expr["Std:Join"]
        return join["On"].join(str(_resolve(v, values)) for v in join["Values"])
    if isinstance(expr, dict) and "Std:JsonGet" in expr:
        node = values["evaluation.json"]
        for part in expr["Std:JsonGet"]["Path"].split("."):
            node = node[part]
        return node
    if isinstance(expr, dict):
        return {key: _resolve(value, values) for key, value in expr.items()}
    if isinstance(expr, list):
        return [_resolve(value, values) for value in expr]
    return expr


def test_sagemaker_registry_reads_what_the_register_step_records(
    calls: AwsCalls, aws: tuple[Any, Any], moto_url: str, definition: dict[str, Any]
) -> None:
    """Play the RegisterModel step by hand on moto; SageMakerRegistry must read the lineage."""
    from model_build.pipeline.steps.register import new_version
    from model_build.registry.sagemaker import SageMakerRegistry
    from model_build.registry.sagemaker_metadata import version_fields

    sagemaker, s3 = aws
    params = load_params()
    ensure_model_package_group(aws=calls, model_name="driver_ranking")
    metrics = {"roc_auc": 0.85, "log_loss": 0.47}
    record = new_version(
        definition=params, artifact_digest="sha256:" + "a" * 64, metrics=metrics,
        data_hash="sha256:" + "b" * 64, features=["conv_rate", "trip_distance_km"],
        run_id="exec-7", git_commit="c" * 40, description="SageMaker pipeline execution exec-7",
    )  # fmt: skip
    evaluation_uri = f"s3://{BUCKET}/{params.sagemaker.prefix}/runs/exec-7/evaluation"
    evaluation = {
        "metrics": metrics,
        "lineage": {"artifact_digest": record.artifact_digest, "data_hash": record.data_hash},
        "gate": {"passed": True, "serving_passed": True, "summary": "passed 2 checks"},
    }
    key = evaluation_uri.removeprefix(f"s3://{BUCKET}/")
    s3.put_object(Bucket=BUCKET, Key=f"{key}/evaluation.json", Body=json.dumps(evaluation))
    lineage = {"format": 1, **version_fields(record)}
    s3.put_object(Bucket=BUCKET, Key=f"{key}/lineage.json", Body=json.dumps(lineage))
    values = {
        "Parameters.GitSha": record.git_sha,
        "Execution.PipelineExecutionId": "exec-7",
        "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri": (
            evaluation_uri
        ),
        "Steps.Train.ModelArtifacts.S3ModelArtifacts": f"s3://{BUCKET}/x/model.tar.gz",
        "evaluation.json": evaluation,
    }
    (register,) = definition["Steps"][3]["Arguments"]["IfSteps"]
    args = _resolve(register["Arguments"], values)
    sagemaker.create_model_package(
        ModelPackageGroupName=args["ModelPackageGroupName"],
        ModelPackageDescription=args["ModelPackageDescription"],
        InferenceSpecification=args["InferenceSpecification"],
        ModelMetrics={"ModelQuality": args["ModelMetrics"]["ModelQuality"]},
        CustomerMetadataProperties=args["CustomerMetadataProperties"],
        ModelApprovalStatus=args["ModelApprovalStatus"],
    )
    registry = SageMakerRegistry(
        s3_bucket=BUCKET, image_uri=IMAGE, region="us-east-1", endpoint_url=moto_url
    )
    version = registry.get(model_name="driver_ranking", version=1)
    assert version.artifact_digest == record.artifact_digest
    assert version.task == record.task == "binary"
    assert version.data_hash == record.data_hash
    assert version.git_sha == record.git_sha
    assert version.run_id == "exec-7"
    assert version.features == record.features
    assert version.feature_service == "driver_ranking_v1"
    assert version.metrics == metrics
    assert version.params == record.params
    assert version.artifact_uri == f"s3://{BUCKET}/x/model.tar.gz"
