"""The SageMaker deploy target against moto on 127.0.0.1 (plus the ``update_endpoint`` patch)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "model_deploy"))

from deploy_support import (
    BAD_ROW,
    GOOD_ROW,
    FakeRegistry,
    make_deployer,
    register_version,
    write_manifest,
)

from model_deploy.apply import apply_env
from model_deploy.errors import ApplyFailed
from model_deploy.service import Deployer
from model_deploy.status import status_all
from model_deploy.targets import processes
from model_deploy.targets.sagemaker import SageMakerTarget

pytestmark = pytest.mark.integration

ENDPOINT = "slipway-staging"
ROLE = "arn:aws:iam::123456789012:role/slipway-sagemaker"
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driver-ranking/{}"


def _update_endpoint(self: Any) -> Any:
    """``update_endpoint`` for moto 5.2.5 (from docs/offline-testing.md, section 1)."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    backend.describe_endpoint(name)  # unknown name -> ValidationException
    config_name = self._get_param("EndpointConfigName")
    config = backend.describe_endpoint_config(config_name)
    endpoint = backend.endpoints[name]
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config.get("DataCaptureConfig")
    endpoint.last_modified_time = utcnow()
    return ActionResult({"EndpointArn": endpoint.arn})


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.sagemaker.responses import SageMakerResponse
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    original = getattr(SageMakerResponse, "update_endpoint", None)
    SageMakerResponse.update_endpoint = _update_endpoint  # type: ignore[attr-defined]
    port = processes.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        if original is None:
            del SageMakerResponse.update_endpoint  # type: ignore[attr-defined]
        else:
            SageMakerResponse.update_endpoint = original  # type: ignore[attr-defined]


class Clients:
    """boto3 clients on the moto server; records the parameters of every update_endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.updates: list[dict[str, Any]] = []

    def __call__(self, service: str) -> Any:
        client = boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.meta.events.register(
            "provide-client-params.sagemaker.UpdateEndpoint",
            lambda params, **_: self.updates.append(dict(params)),
        )
        return client


@pytest.fixture
def aws(moto_url: str, tmp_path: Path) -> tuple[Deployer, Clients, FakeRegistry]:
    httpx.post(f"{moto_url}/moto-api/reset")
    registry = FakeRegistry(tmp_path / "registry")
    for seed in (1, 2):
        version = register_version(registry, tmp_path, seed=seed)
        key = (version.model_name, version.version)
        registry.versions[key] = version.model_copy(
            update={
                "arn": PACKAGE_ARN.format(seed) if seed == 1 else None,
                "artifact_uri": f"s3://slipway-models/driver_ranking/{seed}/model.tar.gz",
            }
        )
    clients = Clients(moto_url)
    target = SageMakerTarget(clients=clients, wait_timeout=10, poll_seconds=0.01)
    return make_deployer(tmp_path, registry, targets={"sagemaker": target}), clients, registry


def manifest(
    version: int,
    *,
    count: int = 2,
    instance_type: str = "ml.m5.large",
    strategy: str = "{type: all_at_once}",
    rows: tuple[dict[str, Any], ...] = (GOOD_ROW, BAD_ROW),
) -> str:
    return f"""\
environment: staging
model: {{registry: sagemaker, name: driver_ranking, version: {version},
        feature_service: driver_ranking_v1}}
target:
  kind: sagemaker
  endpoint_name: {ENDPOINT}
  instance_type: {instance_type}
  autoscaling: {{min_capacity: 1, max_capacity: 4}}
  instance_count: {count}
  execution_role_arn: {ROLE}
  image_uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway-inference:1
data_capture: {{sampling_percentage: 20, destination: s3://slipway-capture/staging}}
strategy: {strategy}
rollback_alarms: [slipway-staging-5xx]
smoke_tests:
  - name: one row
    instances: [{json.dumps(rows[0])}]
  - name: two rows
    instances: [{json.dumps(rows[0])}, {json.dumps(rows[1])}]
"""


def queue_answers(url: str, *answers: list[float]) -> None:
    """Queue invoke_endpoint answers, one per distinct request body, in order."""
    results = [
        {
            "Body": json.dumps(
                {"predictions": [{"probability": p, "label": int(p >= 0.5)} for p in probs]}
            ),
            "ContentType": "application/json",
            "InvokedProductionVariant": "AllTraffic",
            "CustomAttributes": "",
        }
        for probs in answers
    ]
    httpx.post(f"{url}/moto-api/static/sagemaker/endpoint-results", json={"results": results})


def put(deployer: Deployer, text: str) -> None:
    write_manifest(Path(deployer.settings.deploy_manifests_dir), "staging", text)


def sm(clients: Clients) -> Any:
    return clients("sagemaker")


def test_create_records_tags_and_reads_the_state_back(aws: Any) -> None:
    deployer, clients, _ = aws
    put(deployer, manifest(1))
    queue_answers(clients.url, [0.9], [0.9, 0.1])
    plan = deployer.plan("staging")
    assert plan.action == "create"
    result = apply_env(deployer, "staging")
    after = result.after
    assert result.outcome == "deployed"
    assert [s.passed for s in result.smoke_tests] == [True, True]
    assert (after.model_ref, after.instance_type, after.instance_count) == (
        "driver_ranking:1", "ml.m5.large", 2,
    )  # fmt: skip
    assert (after.autoscaling_min, after.autoscaling_max, after.data_capture_percentage) == (
        1, 4, 20,
    )  # fmt: skip
    assert after.manifest_hash == plan.manifest_hash
    assert after.git_sha == "0123456789abcdef"
    client = sm(clients)
    endpoint = client.describe_endpoint(EndpointName=ENDPOINT)
    model = client.describe_model(ModelName=endpoint["EndpointConfigName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == PACKAGE_ARN.format(1)
    tags = {
        t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]
    }
    assert tags["slipway:git-sha"] == "0123456789abcdef"
    assert tags["slipway:manifest-hash"] == plan.manifest_hash
    assert apply_env(deployer, "staging").outcome == "noop"
    assert clients.updates == []  # created, never updated


def test_update_uses_blue_green_config_and_plan_shows_the_diff(aws: Any) -> None:
    deployer, clients, _ = aws
    put(deployer, manifest(1))
    queue_answers(clients.url, [0.9], [0.9, 0.1])
    apply_env(deployer, "staging")
    canary = "{type: canary, percent: 25, bake_minutes: 10}"
    put(deployer, manifest(2, count=3, instance_type="ml.c5.xlarge", strategy=canary))
    plan = deployer.plan("staging")
    changes = {c.key: (c.serving, c.desired) for c in plan.changes}
    assert changes == {
        "model_version": ("driver_ranking:1", "driver_ranking:2"),
        "instance_type": ("ml.m5.large", "ml.c5.xlarge"),
        "instance_count": ("2", "3"),
        "strategy": ("all at once", "canary 25% / bake 10 min"),
        "manifest_hash": (changes["manifest_hash"][0], plan.manifest_hash[7:19]),
    }
    assert plan.action == "update"
    assert not plan.blocked
    result = apply_env(deployer, "staging")
    assert result.after.model_ref == "driver_ranking:2"
    assert result.after.instance_count == 3
    (update,) = clients.updates
    assert update["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 600,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            },
            "TerminationWaitInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": 4200,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "slipway-staging-5xx"}]},
    }
    client = sm(clients)
    config = client.describe_endpoint_config(EndpointConfigName=update["EndpointConfigName"])
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    model = client.describe_model(ModelName=update["EndpointConfigName"])
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/2/model.tar.gz")
    assert deployer.plan("staging").in_sync


def test_status_detects_out_of_band_changes_and_apply_heals_them(aws: Any) -> None:
    deployer, clients, _ = aws
    put(deployer, manifest(1))
    queue_answers(clients.url, [0.9], [0.9, 0.1])
    apply_env(deployer, "staging")
    (status,) = status_all(deployer)
    assert status.in_sync, status.drift
    client = sm(clients)
    client.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 5}],
    )
    (status,) = status_all(deployer)
    assert not status.in_sync
    assert "instance count: the target has 5, the manifest wants 2" in status.drift
    assert any("changed outside slipway" in line for line in status.drift)
    plan = deployer.plan("staging")
    assert [(c.key, c.serving, c.desired) for c in plan.changes] == [("instance_count", "5", "2")]
    apply_env(deployer, "staging")
    assert status_all(deployer)[0].in_sync

    # someone points the endpoint at a hand-made config
    ours = client.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    client.create_endpoint_config(
        EndpointConfigName="hand-made",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": ours,
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 2}],
    )  # fmt: skip
    client.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="hand-made")
    (status,) = status_all(deployer)
    assert "endpoint config hand-made was not created by slipway" in status.drift
    assert "model version: the target has unknown, the manifest wants driver_ranking:1" in (
        status.drift
    )
    assert status.serving_ref is None


def test_failed_smoke_test_points_the_endpoint_back(aws: Any) -> None:
    deployer, clients, _ = aws
    put(deployer, manifest(1))
    queue_answers(clients.url, [0.9], [0.9, 0.1])
    apply_env(deployer, "staging")
    before = sm(clients).describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    other = {**GOOD_ROW, "avg_daily_trips": 20}  # new request bodies get new canned answers
    put(deployer, manifest(2, rows=(other, BAD_ROW)))
    queue_answers(clients.url, [1.7], [0.9])
    with pytest.raises(ApplyFailed) as caught:
        apply_env(deployer, "staging")
    assert caught.value.restored
    message = str(caught.value)
    assert "'one row': prediction 0: probability 1.7 is outside [0.0, 1.0]" in message
    assert "'two rows': expected 2 predictions, got 1" in message
    endpoint = sm(clients).describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointConfigName"] == before
    (status,) = status_all(deployer)
    assert status.serving_ref == "driver_ranking:1"
    assert not any("outside slipway" in line for line in status.drift), status.drift


def test_teardown_deletes_the_endpoint(aws: Any) -> None:
    deployer, clients, _ = aws
    put(deployer, manifest(1))
    queue_answers(clients.url, [0.9], [0.9, 0.1])
    apply_env(deployer, "staging")
    text = manifest(1).replace(
        "model: {registry: sagemaker, name: driver_ranking, version: 1,\n"
        "        feature_service: driver_ranking_v1}",
        "model: null",
    )
    put(deployer, text)
    assert deployer.plan("staging").action == "destroy"
    assert apply_env(deployer, "staging").outcome == "torn_down"
    assert not deployer.plan("staging").actual.deployed
