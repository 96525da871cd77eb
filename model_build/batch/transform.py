"""Batch scoring on SageMaker: a Batch Transform job over the same rows.

Features are read here exactly as for a local job (point in time, or online); the rows go to
S3 as one headerless CSV, ``row,<entity keys>,<event time>,<model inputs...>`` per line. The
job (Slipway's inference image, the version's ``model.tar.gz``) splits the input by line,
feeds each record's model inputs to the container (``InputFilter`` drops the leading id
columns), and joins every answer to its input record (``JoinSource: Input``), so each output
line is the input line followed by the model's CSV answer. A version registered locally has
its bundle packed and uploaded next to the input. The job is created and left running; its
name, ARN and S3 locations are returned.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_build.errors import BatchError

if TYPE_CHECKING:
    from feature_store.repo import FeatureRepo
    from foundation.aws import ClientFactory
    from model_build.registry.protocol import ModelRegistry


@dataclass(frozen=True)
class TransformStarted:
    """A Batch Transform job that was created.

    Attributes:
        job_name: The job (and its SageMaker model) name.
        job_arn: The job's ARN.
        model: ``MODEL:VERSION`` scoring the rows.
        input_uri: The S3 input (one CSV, split by line).
        output_uri: Where SageMaker writes ``<input name>.out``.
        model_data: The ``model.tar.gz`` the job loads.
        rows: Rows sent.
        settings: The job's input, output and data processing settings as sent.
    """

    job_name: str
    job_arn: str
    model: str
    input_uri: str
    output_uri: str
    model_data: str
    rows: int
    settings: dict[str, Any] = field(default_factory=dict)


def start_transform(
    *,
    registry: ModelRegistry,
    model_name: str,
    version: int,
    repo: FeatureRepo,
    input_path: Path,
    output_uri: str,
    bucket: str | None,
    prefix: str,
    role_arn: str | None,
    image_uri: str | None,
    instance_type: str,
    region: str,
    endpoint_url: str | None = None,
    timestamp: str = "event_timestamp",
    online: bool = False,
    client_factory: ClientFactory | None = None,
    now: datetime | None = None,
) -> TransformStarted:
    """Read the features, upload the rows (and a local bundle), create the model and the job.

    ``output_uri`` is an ``s3://`` prefix, or empty for ``s3://<bucket>/<prefix>/batch/<job>/
    output/``.

    Raises:
        BatchError: The bucket, role or image is not set, the entity rows are unusable, or an
            AWS call failed (the message names it).
    """
    from foundation.aws import AwsCalls, boto3_clients
    from model_build.batch.features import read_features, required_columns
    from model_build.batch.job import read_entities
    from model_build.pipeline.steps.training_set import describe_feature_service
    from model_bundle.bundle import load_bundle, pack_bundle

    if not bucket or not role_arn or not image_uri:
        needed = {"--bucket": bucket, "--role-arn": role_arn, "SLIPWAY_IMAGE_URI": image_uri}
        missing = ", ".join(flag for flag, value in needed.items() if not value)
        raise BatchError(f"a SageMaker Batch Transform job needs {missing}")
    found = registry.get(model_name=model_name, version=version)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    job = f"{model_name.replace('_', '-')}-{version}-{moment:%Y%m%d%H%M%S}"[:63]
    base = f"{prefix.strip('/')}/batch/{job}".lstrip("/")
    aws = AwsCalls(
        client_factory or boto3_clients(region=region, endpoint_url=endpoint_url), error=BatchError
    )
    entities = read_entities(input_path)
    store = repo.open_store()
    info = describe_feature_service(store=store, name=found.feature_service)
    keys = required_columns(info, timestamp=timestamp, online=online)
    absent = [name for name in keys if name not in entities.columns]
    if absent:
        raise BatchError(f"{input_path}: missing column(s) {', '.join(absent)}")
    features = read_features(
        store=store, info=info, entities=entities, timestamp=timestamp, online=online
    )
    with tempfile.TemporaryDirectory(prefix="slipway-transform-") as tmp:
        folder = Path(tmp)
        if found.artifact_uri.startswith("s3://"):
            model_data = found.artifact_uri
            bundle_dir = registry.fetch_bundle(
                model_name=model_name, version=version, directory=folder / "bundle"
            )
        else:
            bundle_dir = registry.fetch_bundle(
                model_name=model_name, version=version, directory=folder / "bundle"
            )
            archive = pack_bundle(directory=bundle_dir, archive=folder / "model.tar.gz")
            model_data = aws.upload_file(archive, bucket=bucket, key=f"{base}/model.tar.gz")
        order = load_bundle(directory=bundle_dir).features
        lead = ["row", *info.entity_keys, *([] if online else [timestamp])]
        rows = entities[lead[1:]].reset_index(drop=True)
        rows.insert(0, "row", range(len(rows)))
        body = rows.join(features[order])
        body.to_csv(folder / "rows.csv", header=False, index=False)
        input_uri = aws.upload_file(
            folder / "rows.csv", bucket=bucket, key=f"{base}/input/rows.csv"
        )
    out = output_uri if output_uri.startswith("s3://") else f"s3://{bucket}/{base}/output/"
    settings: dict[str, Any] = {
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": out, "Accept": "text/csv", "AssembleWith": "Line"},
        "DataProcessing": {"InputFilter": f"$[{len(lead)}:]", "JoinSource": "Input"},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
    }
    aws.call(
        "sagemaker",
        "create_model",
        ModelName=job,
        PrimaryContainer={
            "Image": image_uri,
            "ModelDataUrl": model_data,
            "Environment": {"SLIPWAY_MODEL_REF": found.ref},
        },
        ExecutionRoleArn=role_arn,
    )
    created = aws.call(
        "sagemaker",
        "create_transform_job",
        TransformJobName=job,
        ModelName=job,
        TransformResources={"InstanceType": instance_type, "InstanceCount": 1},
        Tags=[
            {"Key": "slipway:model", "Value": found.ref},
            {"Key": "slipway:feature-service", "Value": info.name},
        ],
        **settings,
    )
    return TransformStarted(
        job_name=job,
        job_arn=str(created["TransformJobArn"]),
        model=found.ref,
        input_uri=input_uri,
        output_uri=out,
        model_data=model_data,
        rows=len(body),
        settings=settings,
    )
