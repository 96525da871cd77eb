"""SageMaker-specific registry behaviour on a real moto server: what is stored where, API limits
moto does not enforce, group naming, paging, lazy clients and configuration."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from sklearn.dummy import DummyClassifier

from foundation.ports import free_port
from model_build.errors import RegistryError, VersionNotFoundError
from model_build.registry import ApprovalStatus, NewVersion, SageMakerRegistry, open_registry
from model_build.settings import BuildSettings
from model_bundle.bundle import ModelBundle, bundle_digest, save_bundle

pytestmark = pytest.mark.integration

REGION = "us-east-1"
BUCKET = "slipway-sm-artifacts"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway-inference:1"
# What real SageMaker accepts in CustomerMetadataProperties (ASCII subset of its pattern).
ALLOWED = re.compile(r"^[A-Za-z0-9 _.:/=+\-@]+$")
_SESSION: dict[str, Any] = {}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def url(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    _client("s3", moto_url).create_bucket(Bucket=BUCKET)
    return moto_url


def _client(service: str, url: str) -> Any:
    session = _SESSION.setdefault("session", boto3.session.Session(region_name=REGION))
    return session.client(service, endpoint_url=url)


def _registry(url: str, **kwargs: Any) -> SageMakerRegistry:
    return SageMakerRegistry(
        s3_bucket=kwargs.pop("s3_bucket", BUCKET),
        image_uri=IMAGE,
        region=REGION,
        client_factory=lambda service: _client(service, url),
        **kwargs,
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    estimator = DummyClassifier(strategy="prior").fit([[0.0], [1.0]], [0, 1])
    directory = tmp_path_factory.mktemp("bundle")
    digest = save_bundle(ModelBundle(estimator=estimator, features=["x"]), directory=directory)
    return directory, digest


def _new(digest: str, **changes: Any) -> NewVersion:
    fields: dict[str, Any] = {
        "model_name": "driver_ranking",
        "artifact_digest": digest,
        "metrics": {"roc_auc": 0.9, "log_loss": 0.25},
        "params": {"C": 1.0, "note": 'quotes " and {braces}'},
        "feature_service": "driver_ranking_v1",
        "features": ["x"],
        "run_id": "r1",
    }
    return NewVersion.model_validate({**fields, **changes})


def _s3_json(url: str, uri: str) -> Any:
    bucket, key = uri[5:].split("/", 1)
    return json.loads(_client("s3", url).get_object(Bucket=bucket, Key=key)["Body"].read())


def _assert_within_limits(props: dict[str, str]) -> None:
    assert len(props) <= 50
    for key, value in props.items():
        assert len(key) <= 128, key
        assert ALLOWED.match(key), key
        assert 1 <= len(value) <= 256, key
        assert ALLOWED.match(value), (key, value)


def test_no_client_is_made_until_first_use(url: str) -> None:
    made: list[str] = []

    def factory(service: str) -> Any:
        made.append(service)
        return _client(service, url)

    registry = SageMakerRegistry(
        s3_bucket=BUCKET, image_uri=IMAGE, region=REGION, client_factory=factory
    )
    repr(registry)
    assert made == []
    assert registry.list_models() == []
    registry.list_models()
    assert made == ["sagemaker"]


def test_package_holds_image_archive_metrics_and_lineage(
    url: str, bundle: tuple[Path, str]
) -> None:
    registry = _registry(url)
    new = _new(bundle[1], description="line one\nline two")
    version = registry.register(new=new, bundle_dir=bundle[0])
    assert version.arn is not None
    assert version.arn.endswith("/driver-ranking/1")
    sm = _client("sagemaker", url)
    desc = sm.describe_model_package(ModelPackageName=version.arn)
    assert desc["ModelApprovalStatus"] == "PendingManualApproval"
    container = desc["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == IMAGE
    assert container["ModelDataUrl"] == version.artifact_uri
    assert version.artifact_uri.startswith(f"s3://{BUCKET}/slipway/models/driver_ranking/")
    assert version.artifact_uri.endswith("/model.tar.gz")
    stats = desc["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert stats["ContentType"] == "application/json"
    assert _s3_json(url, stats["S3Uri"])["metrics"] == new.metrics
    props = desc["CustomerMetadataProperties"]
    _assert_within_limits(props)
    assert props["slipway.artifact_digest"] == bundle[1]
    assert props["slipway.feature_service"] == "driver_ranking_v1"
    assert "\n" not in desc["ModelPackageDescription"]
    assert registry.get(model_name="driver_ranking", version=1).description == new.description

    registry.set_status(
        model_name="driver_ranking", version=1, status=ApprovalStatus.APPROVED, reason="ok"
    )
    desc = sm.describe_model_package(ModelPackageName=version.arn)
    assert (desc["ModelApprovalStatus"], desc["ApprovalDescription"]) == ("Approved", "ok")
    assert desc["CustomerMetadataProperties"] == props
    registry.set_status(
        model_name="driver_ranking", version=1, status=ApprovalStatus.REJECTED, reason="no"
    )
    desc = sm.describe_model_package(ModelPackageName=version.arn)
    assert desc["ModelApprovalStatus"] == "Rejected"


def test_too_many_metrics_are_read_from_the_statistics_document(
    url: str, bundle: tuple[Path, str]
) -> None:
    metrics = {f"slice_{i:03d}_roc_auc_by_region": i / 7 for i in range(300)}
    registry = _registry(url)
    version = registry.register(new=_new(bundle[1], metrics=metrics), bundle_dir=bundle[0])
    props = _client("sagemaker", url).describe_model_package(ModelPackageName=version.arn)[
        "CustomerMetadataProperties"
    ]
    _assert_within_limits(props)
    assert not any(key.startswith("slipway.metrics") for key in props)
    assert "slipway.lineage_uri" not in props
    assert registry.get(model_name="driver_ranking", version=1).metrics == metrics


def test_huge_lineage_moves_to_an_s3_document(url: str, bundle: tuple[Path, str]) -> None:
    features = [f"feature_{i:04d}_{'x' * 30}" for i in range(400)]
    params = {"grid": {f"p{i}": list(range(i % 5)) for i in range(200)}}
    new = _new(bundle[1], features=features, params=params)
    registry = _registry(url)
    version = registry.register(new=new, bundle_dir=bundle[0])
    props = _client("sagemaker", url).describe_model_package(ModelPackageName=version.arn)[
        "CustomerMetadataProperties"
    ]
    _assert_within_limits(props)
    assert props["slipway.lineage_uri"].startswith(f"s3://{BUCKET}/")
    got = registry.get(model_name="driver_ranking", version=1)
    assert got.model_dump(include=set(NewVersion.model_fields)) == new.model_dump()


def test_model_names_map_to_group_names_without_collisions(
    url: str, bundle: tuple[Path, str]
) -> None:
    registry = _registry(url)
    registry.register(new=_new(bundle[1]), bundle_dir=bundle[0])
    groups = _client("sagemaker", url).list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["driver-ranking"]
    with pytest.raises(RegistryError, match="belongs to model 'driver_ranking'"):
        registry.register(new=_new(bundle[1], model_name="driver-ranking"), bundle_dir=bundle[0])
    with pytest.raises(VersionNotFoundError):
        registry.get(model_name="driver-ranking", version=1)
    with pytest.raises(RegistryError, match="group name"):
        registry.register(new=_new(bundle[1], model_name="trailing_"), bundle_dir=bundle[0])
    assert registry.list_models() == ["driver_ranking"]


def test_listing_follows_pages(url: str, bundle: tuple[Path, str]) -> None:
    registry = _registry(url, page_size=2)
    for name in ("alpha", "beta", "gamma"):
        registry.register(new=_new(bundle[1], model_name=name), bundle_dir=bundle[0])
    for _ in range(4):
        registry.register(new=_new(bundle[1]), bundle_dir=bundle[0])
    for number in (1, 3, 4):
        registry.set_status(
            model_name="driver_ranking", version=number, status=ApprovalStatus.APPROVED
        )
    assert registry.list_models() == ["alpha", "beta", "driver_ranking", "gamma"]
    assert [v.version for v in registry.list_versions(model_name="driver_ranking")] == [1, 2, 3, 4]
    approved = registry.list_versions(model_name="driver_ranking", status=ApprovalStatus.APPROVED)
    assert [v.version for v in approved] == [1, 3, 4]


def test_missing_archive_and_missing_bucket_are_registry_errors(
    url: str, bundle: tuple[Path, str], tmp_path: Path
) -> None:
    registry = _registry(url)
    version = registry.register(new=_new(bundle[1]), bundle_dir=bundle[0])
    bucket, key = version.artifact_uri[5:].split("/", 1)
    _client("s3", url).delete_object(Bucket=bucket, Key=key)
    with pytest.raises(RegistryError, match="not found") as caught:
        registry.fetch_bundle(model_name="driver_ranking", version=1, directory=tmp_path / "b")
    assert not isinstance(caught.value, VersionNotFoundError)
    broken = _registry(url, s3_bucket="no-such-bucket")
    with pytest.raises(RegistryError, match="NoSuchBucket"):
        broken.register(new=_new(bundle[1]), bundle_dir=bundle[0])


def test_open_registry_builds_sagemaker_from_settings(
    url: str, bundle: tuple[Path, str], tmp_path: Path
) -> None:
    settings = BuildSettings(
        registry="sagemaker",
        s3_bucket=BUCKET,
        image_uri=IMAGE,
        aws_region=REGION,
        aws_endpoint_url=url,
    )
    registry = open_registry(settings)
    assert isinstance(registry, SageMakerRegistry)
    registry.register(new=_new(bundle[1]), bundle_dir=bundle[0])
    folder = registry.fetch_bundle(model_name="driver_ranking", version=1, directory=tmp_path)
    assert bundle_digest(directory=folder) == bundle[1]
