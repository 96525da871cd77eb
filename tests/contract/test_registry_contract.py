"""One contract for every ModelRegistry: the local folder, SageMaker on a real moto server, and
the in-memory fake the ci and deploy tests use (so the fake keeps the same rules).

The SageMaker variant talks HTTP to ``moto.server.ThreadedMotoServer`` on 127.0.0.1 (one server
per module, started only when a SageMaker test runs, state reset before each test) with fake
credentials; nothing leaves the machine. Only that variant is marked ``integration``.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from registry_fakes import InMemoryRegistry
from sklearn.linear_model import LogisticRegression

from foundation.ports import free_port
from model_build.errors import InvalidTransitionError, RegistryError, VersionNotFoundError
from model_build.registry import (
    ApprovalStatus,
    LocalRegistry,
    ModelRegistry,
    NewVersion,
    SageMakerRegistry,
)
from model_bundle.bundle import ModelBundle, bundle_digest, load_bundle, save_bundle

REGION = "us-east-1"
BUCKET = "slipway-test-artifacts"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway-inference:1"
FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips", "zeta", "alpha"]
A, P, R = ApprovalStatus.APPROVED, ApprovalStatus.PENDING, ApprovalStatus.REJECTED


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
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A clean moto server with the artifact bucket, and fake credentials only."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    _client("s3", moto_url).create_bucket(Bucket=BUCKET)
    return moto_url


_SESSION: dict[str, Any] = {}


def _client(service: str, url: str) -> Any:
    # One botocore session for the module: loading the SageMaker service model takes ~0.5 s.
    session = _SESSION.setdefault("session", boto3.session.Session(region_name=REGION))
    return session.client(service, endpoint_url=url)


def _sagemaker(url: str, **kwargs: Any) -> SageMakerRegistry:
    return SageMakerRegistry(
        s3_bucket=BUCKET,
        image_uri=IMAGE,
        region=REGION,
        client_factory=lambda service: _client(service, url),
        **kwargs,
    )


@pytest.fixture(
    params=["local", pytest.param("sagemaker", marks=pytest.mark.integration), "in-memory"]
)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    if request.param == "local":
        return LocalRegistry(tmp_path / "registry")
    if request.param == "in-memory":
        return InMemoryRegistry()
    return _sagemaker(request.getfixturevalue("aws"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, len(FEATURES)))
    y = (x[:, 0] + rng.normal(scale=0.5, size=40) > 0).astype(int)
    estimator = LogisticRegression().fit(x, y)
    directory = tmp_path_factory.mktemp("bundle")
    digest = save_bundle(ModelBundle(estimator=estimator, features=FEATURES), directory=directory)
    return directory, digest


def _new(digest: str, **changes: Any) -> NewVersion:
    fields: dict[str, Any] = {
        "model_name": "driver_ranking",
        "artifact_digest": digest,
        "metrics": {"roc_auc": 0.8123456789012345, "pr_auc": 1 / 3, "log_loss": 0.1 + 0.2},
        "params": {"C": 0.5, "seed": 7, "grid": {"a": [1, 2, {"b": None}], "z": True, "y": "é"}},
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
        "data_hash": "sha256:feedface",
        "feature_service": "driver_ranking_v1",
        "features": FEATURES,
        "run_id": "run-2026-11-01",
        "description": 'first "model"\nsecond line',
    }
    return NewVersion.model_validate({**fields, **changes})


def _register(
    registry: ModelRegistry, bundle: tuple[Path, str], count: int, **changes: Any
) -> None:
    for _ in range(count):
        registry.register(new=_new(bundle[1], **changes), bundle_dir=bundle[0])


def test_satisfies_the_protocol(registry: ModelRegistry) -> None:
    assert isinstance(registry, ModelRegistry)


def test_register_numbers_versions_from_one(
    registry: ModelRegistry, bundle: tuple[Path, str]
) -> None:
    first = registry.register(new=_new(bundle[1]), bundle_dir=bundle[0])
    second = registry.register(new=_new(bundle[1], run_id="run-2"), bundle_dir=bundle[0])
    assert (first.version, second.version) == (1, 2)
    assert first.status == second.status == P
    assert first.ref == "driver_ranking:1"
    assert first.created_at.tzinfo is not None
    assert first.created_at.utcoffset() == UTC.utcoffset(None)
    assert first.artifact_uri
    assert registry.get(model_name="driver_ranking", version=1) == first
    assert registry.get(model_name="driver_ranking", version=2).run_id == "run-2"


def test_metrics_and_lineage_round_trip_exactly(
    registry: ModelRegistry, bundle: tuple[Path, str]
) -> None:
    new = _new(bundle[1])
    registry.register(new=new, bundle_dir=bundle[0])
    got = registry.get(model_name="driver_ranking", version=1)
    assert got.model_dump(include=set(NewVersion.model_fields)) == new.model_dump()
    assert got.metrics["log_loss"] == 0.1 + 0.2
    assert got.features == FEATURES
    assert list(got.params["grid"]) == ["a", "z", "y"]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_task_round_trips_and_defaults_to_binary(
    registry: ModelRegistry, bundle: tuple[Path, str], task: str
) -> None:
    """Every registry records the task; a version registered without one reads as binary."""
    metrics = {"rmse": 1.25, "r2": 0.9} if task == "regression" else {"roc_auc": 0.8}
    registry.register(new=_new(bundle[1], task=task, metrics=metrics), bundle_dir=bundle[0])
    got = registry.get(model_name="driver_ranking", version=1)
    assert got.task == task
    assert got.metrics == metrics
    assert (
        NewVersion.model_validate(
            {k: v for k, v in _new(bundle[1]).model_dump().items() if k != "task"}
        ).task
        == "binary"
    )


def test_empty_lineage_fields_round_trip(registry: ModelRegistry, bundle: tuple[Path, str]) -> None:
    new = _new(bundle[1], params={}, git_sha="", data_hash="", run_id="", description="")
    registry.register(new=new, bundle_dir=bundle[0])
    got = registry.get(model_name="driver_ranking", version=1)
    assert got.model_dump(include=set(NewVersion.model_fields)) == new.model_dump()


def test_list_is_oldest_first_and_filters_by_status(
    registry: ModelRegistry, bundle: tuple[Path, str]
) -> None:
    _register(registry, bundle, 3)
    registry.set_status(model_name="driver_ranking", version=2, status=A, reason="good")
    registry.set_status(model_name="driver_ranking", version=3, status=R, reason="bad")
    listed = registry.list_versions(model_name="driver_ranking")
    assert [v.version for v in listed] == [1, 2, 3]
    assert [v.status for v in listed] == [P, A, R]
    assert [v.version for v in registry.list_versions(model_name="driver_ranking", status=A)] == [2]
    assert [v.version for v in registry.list_versions(model_name="driver_ranking", status=P)] == [1]
    assert registry.list_versions(model_name="unknown_model") == []


def test_list_models(registry: ModelRegistry, bundle: tuple[Path, str]) -> None:
    assert registry.list_models() == []
    _register(registry, bundle, 1, model_name="zeta-model")
    _register(registry, bundle, 2)
    assert registry.list_models() == ["driver_ranking", "zeta-model"]


def test_latest(registry: ModelRegistry, bundle: tuple[Path, str]) -> None:
    assert registry.latest(model_name="driver_ranking") is None
    _register(registry, bundle, 3)
    assert registry.latest(model_name="driver_ranking") is None
    latest_any = registry.latest(model_name="driver_ranking", status=None)
    assert latest_any is not None
    assert latest_any.version == 3
    registry.set_status(model_name="driver_ranking", version=1, status=A)
    registry.set_status(model_name="driver_ranking", version=2, status=A)
    approved = registry.latest(model_name="driver_ranking")
    assert approved is not None
    assert approved.version == 2
    pending = registry.latest(model_name="driver_ranking", status=P)
    assert pending is not None
    assert pending.version == 3


def test_approve_and_reject_record_the_reason(
    registry: ModelRegistry, bundle: tuple[Path, str]
) -> None:
    _register(registry, bundle, 2)
    approved = registry.set_status(
        model_name="driver_ranking", version=1, status=A, reason="beats baseline"
    )
    assert (approved.status, approved.status_reason) == (A, "beats baseline")
    rejected = registry.set_status(
        model_name="driver_ranking", version=2, status=R, reason="leaks the label"
    )
    assert (rejected.status, rejected.status_reason) == (R, "leaks the label")
    again = registry.get(model_name="driver_ranking", version=2)
    assert (again.status, again.status_reason) == (R, "leaks the label")
    assert registry.get(model_name="driver_ranking", version=1).status == A


def test_transitions(registry: ModelRegistry, bundle: tuple[Path, str]) -> None:
    _register(registry, bundle, 1)
    ref: dict[str, Any] = {"model_name": "driver_ranking", "version": 1}
    assert registry.set_status(**ref, status=P).status == P  # same status: no-op
    registry.set_status(**ref, status=A, reason="ok")
    same = registry.set_status(**ref, status=A, reason="ignored")
    assert (same.status, same.status_reason) == (A, "ok")
    with pytest.raises(InvalidTransitionError):
        registry.set_status(**ref, status=P)
    registry.set_status(**ref, status=R, reason="regression in prod")
    with pytest.raises(InvalidTransitionError, match="force"):
        registry.set_status(**ref, status=A)
    with pytest.raises(InvalidTransitionError):
        registry.set_status(**ref, status=P, force=True)
    assert registry.get(**ref).status == R
    forced = registry.set_status(**ref, status=A, reason="false alarm", force=True)
    assert (forced.status, forced.status_reason) == (A, "false alarm")


def test_fetch_bundle_gives_the_same_bundle(
    registry: ModelRegistry, bundle: tuple[Path, str], tmp_path: Path
) -> None:
    _register(registry, bundle, 1)
    folder = registry.fetch_bundle(
        model_name="driver_ranking", version=1, directory=tmp_path / "fetched"
    )
    assert bundle_digest(directory=folder) == bundle[1]
    loaded = load_bundle(directory=folder)
    assert loaded.features == FEATURES
    assert loaded.estimator.predict_proba(np.zeros((1, len(FEATURES)))).shape == (1, 2)


def test_digest_mismatch_is_refused(registry: ModelRegistry, bundle: tuple[Path, str]) -> None:
    wrong = "sha256:" + "0" * 64
    with pytest.raises(RegistryError, match="does not match"):
        registry.register(new=_new(wrong), bundle_dir=bundle[0])
    with pytest.raises(RegistryError, match="not found"):
        registry.register(new=_new(bundle[1]), bundle_dir=bundle[0] / "missing")
    assert registry.list_versions(model_name="driver_ranking") == []


def test_non_finite_metrics_are_refused(registry: ModelRegistry, bundle: tuple[Path, str]) -> None:
    with pytest.raises(RegistryError, match="finite"):
        registry.register(
            new=_new(bundle[1], metrics={"roc_auc": float("nan")}), bundle_dir=bundle[0]
        )


def test_unknown_model_or_version(
    registry: ModelRegistry, bundle: tuple[Path, str], tmp_path: Path
) -> None:
    with pytest.raises(VersionNotFoundError):
        registry.get(model_name="no_such_model", version=1)
    _register(registry, bundle, 1)
    with pytest.raises(VersionNotFoundError):
        registry.get(model_name="driver_ranking", version=2)
    with pytest.raises(VersionNotFoundError):
        registry.set_status(model_name="driver_ranking", version=7, status=A)
    with pytest.raises(VersionNotFoundError):
        registry.fetch_bundle(model_name="driver_ranking", version=9, directory=tmp_path / "x")
    with pytest.raises(VersionNotFoundError):
        registry.set_status(model_name="no_such_model", version=1, status=R, reason="r")


# -- the monitoring baseline stored with a version ----------------------------------------------


@pytest.fixture(scope="module")
def baseline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline folder (four files) of a small frame, as the build writes it."""
    import pandas as pd

    from model_monitor.baseline import build_baseline

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(60, len(FEATURES))), columns=FEATURES)
    score = rng.uniform(size=60)
    built = build_baseline(
        features=frame, prediction=score, predicted_label=(score >= 0.5).astype(int)
    )
    directory = tmp_path_factory.mktemp("baseline")
    built.write(directory=directory)
    return directory


def test_the_baseline_round_trips_byte_for_byte(
    registry: ModelRegistry, bundle: tuple[Path, str], baseline_dir: Path, tmp_path: Path
) -> None:
    from model_build.registry.baselines import BASELINE_FILES
    from model_monitor.baseline import load_baseline

    registry.register(new=_new(bundle[1]), bundle_dir=bundle[0], baseline_dir=baseline_dir)
    registry.set_status(model_name="driver_ranking", version=1, status=A, reason="ok")
    folder = registry.fetch_baseline(
        model_name="driver_ranking", version=1, directory=tmp_path / "fetched"
    )
    assert folder == tmp_path / "fetched"
    for name in BASELINE_FILES:
        assert (folder / name).read_bytes() == (baseline_dir / name).read_bytes(), name
    loaded = load_baseline(directory=folder)
    assert list(loaded.schema.features) == FEATURES
    assert loaded.rows == 60


def test_a_version_without_a_baseline_has_none(
    registry: ModelRegistry, bundle: tuple[Path, str], baseline_dir: Path, tmp_path: Path
) -> None:
    _register(registry, bundle, 1)
    registry.register(new=_new(bundle[1]), bundle_dir=bundle[0], baseline_dir=baseline_dir)
    got = registry.fetch_baseline(model_name="driver_ranking", version=1, directory=tmp_path / "a")
    assert got is None
    assert registry.fetch_baseline(
        model_name="driver_ranking", version=2, directory=tmp_path / "b"
    ) == (tmp_path / "b")
    with pytest.raises(VersionNotFoundError):
        registry.fetch_baseline(model_name="driver_ranking", version=3, directory=tmp_path / "c")
    with pytest.raises(VersionNotFoundError):
        registry.fetch_baseline(model_name="no_such_model", version=1, directory=tmp_path / "d")


def test_an_incomplete_baseline_folder_is_refused(
    registry: ModelRegistry, bundle: tuple[Path, str], baseline_dir: Path, tmp_path: Path
) -> None:
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(baseline_dir, partial)
    (partial / "reference.parquet").unlink()
    with pytest.raises(RegistryError, match=r"not a baseline folder \(missing reference.parquet"):
        registry.register(new=_new(bundle[1]), bundle_dir=bundle[0], baseline_dir=partial)
    assert registry.list_versions(model_name="driver_ranking") == []


@pytest.mark.integration
def test_sagemaker_records_the_baseline_as_drift_check_baselines(
    aws: str, bundle: tuple[Path, str], baseline_dir: Path, tmp_path: Path
) -> None:
    registry = _sagemaker(aws)
    version = registry.register(
        new=_new(bundle[1]), bundle_dir=bundle[0], baseline_dir=baseline_dir
    )
    desc = _client("sagemaker", aws).describe_model_package(ModelPackageName=version.arn)
    quality = desc["DriftCheckBaselines"]["ModelDataQuality"]
    for name, kind in (("statistics.json", "Statistics"), ("constraints.json", "Constraints")):
        assert quality[kind]["ContentType"] == "application/json"
        uri = quality[kind]["S3Uri"]
        assert uri.startswith(f"s3://{BUCKET}/slipway/models/driver_ranking/")
        assert uri.endswith(f"/baseline/{name}")
        key = uri.removeprefix(f"s3://{BUCKET}/")
        body = _client("s3", aws).get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body == (baseline_dir / name).read_bytes()
    plain = registry.register(new=_new(bundle[1]), bundle_dir=bundle[0])
    assert "DriftCheckBaselines" not in _client("sagemaker", aws).describe_model_package(
        ModelPackageName=plain.arn
    )
    reference = quality["Statistics"]["S3Uri"].rsplit("/", 1)[0] + "/reference.parquet"
    _client("s3", aws).delete_object(Bucket=BUCKET, Key=reference.removeprefix(f"s3://{BUCKET}/"))
    with pytest.raises(RegistryError, match=r"driver_ranking:1 baseline: .*reference.parquet"):
        registry.fetch_baseline(model_name="driver_ranking", version=1, directory=tmp_path / "x")
