"""The SageMaker registry keeps a version's MLflow run link and bias record (no AWS call)."""

from __future__ import annotations

from datetime import UTC, datetime

from model_build.registry import NewVersion
from model_build.registry import sagemaker_metadata as meta
from model_build.registry.protocol import BiasRecord, TrackingLink
from model_build.registry.sagemaker import SageMakerRegistry

ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/slipway"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/toy/3"
LINK = TrackingLink(
    tracking_uri=ARN, experiment_id="12", run_id="0123456789abcdef0123456789abcdef",
    model_uri="models:/m-0123456789abcdef0123456789abcdef",
)  # fmt: skip
BIAS = BiasRecord(
    attribute="segment", facet=["plus", 3], metrics={"disparate_impact": 0.91, "x": None},
    limits={"disparate_impact": {"min": 0.8, "max": None}}, passed=True,
)  # fmt: skip


def _described(new: NewVersion) -> dict[str, object]:
    return {
        "ModelPackageArn": PACKAGE,
        "CustomerMetadataProperties": meta.encode_properties(meta.version_fields(new)),
        "InferenceSpecification": {"Containers": [{"ModelDataUrl": "s3://b/model.tar.gz"}]},
        "CreationTime": datetime(2026, 3, 2, tzinfo=UTC),
        "ModelApprovalStatus": "PendingManualApproval",
    }


def _new(**fields: object) -> NewVersion:
    return NewVersion(
        model_name="toy", artifact_digest="sha256:" + "a" * 64, metrics={"roc_auc": 0.8},
        feature_service="toy_v1", features=["x1"], run_id="20260302-1", **fields,
    )  # fmt: skip


def test_an_untracked_version_reads_back_without_a_link() -> None:
    registry = SageMakerRegistry(s3_bucket="b", image_uri="img", region="us-east-1")
    version = registry._to_version("toy", _described(_new()))
    assert (version.tracking, version.bias) == (None, None)


def test_the_run_link_and_bias_record_round_trip_through_the_package_metadata() -> None:
    registry = SageMakerRegistry(s3_bucket="b", image_uri="img", region="us-east-1")
    new = _new(tracking=LINK, bias=BIAS)
    props = meta.encode_properties(meta.version_fields(new))
    meta.check_limits(props)
    version = registry._to_version("toy", _described(new))
    assert version.tracking == LINK
    assert version.bias == BIAS
    assert version.ref == "toy:3"
