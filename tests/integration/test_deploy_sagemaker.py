"""SageMaker-only deploy behaviour against moto on 127.0.0.1 (plus the ``update_endpoint`` patch).

What every target does (create, update, no-op, failed smoke tests, rollback, teardown) is in
``tests/contract/test_deploy_target_contract.py``; this file keeps what only SageMaker has: tags,
model packages, blue/green deployment configs, instance settings and console drift.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from sagemaker_support import (
    PACKAGE_ARN,
    ROLE,
    Clients,
    moto_server,
    queue_answers,
    reset_moto,
    use_hand_made_config,
)

from model_deploy.apply import apply_env
from model_deploy.service import Deployer
from model_deploy.status import status_all
from model_deploy.targets.sagemaker import SageMakerTarget

pytestmark = pytest.mark.integration

ENDPOINT = "slipway-staging"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(moto_url: str, tmp_path: Path) -> tuple[Deployer, Clients, FakeRegistry]:
    reset_moto(moto_url)
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
    put_alarm(clients, "slipway-staging-5xx")
    target = SageMakerTarget(clients=clients, wait_timeout=10, poll_seconds=0.01)
    return make_deployer(tmp_path, registry, targets={"sagemaker": target}), clients, registry


def put_alarm(clients: Clients, name: str, *, state: str = "OK") -> None:
    """A CloudWatch alarm on the endpoint's 5xx count, in ``state``."""
    cloudwatch = clients("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name, MetricName="Invocation5XXErrors", Namespace="AWS/SageMaker",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test: {state}")


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
    after = apply_env(deployer, "staging").after
    assert after.settings == {
        "instance_type": "ml.m5.large", "instance_count": "2", "autoscaling": "1-4",
    }  # fmt: skip
    assert after.data_capture_percentage == 20
    assert after.details["status"] == "InService"
    client = sm(clients)
    endpoint = client.describe_endpoint(EndpointName=ENDPOINT)
    assert after.details["endpoint_config"] == endpoint["EndpointConfigName"]
    model = client.describe_model(ModelName=endpoint["EndpointConfigName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == PACKAGE_ARN.format(1)
    tags = {
        t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]
    }
    assert tags["slipway:git-sha"] == "0123456789abcdef"
    assert tags["slipway:manifest-hash"] == plan.manifest_hash


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
    assert result.after.settings["instance_count"] == "3"
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

    use_hand_made_config(client, endpoint=ENDPOINT, instance_count=2)
    (status,) = status_all(deployer)
    assert "endpoint config hand-made was not created by slipway" in status.drift
    assert "model version: the target has unknown, the manifest wants driver_ranking:1" in (
        status.drift
    )
    assert status.serving_ref is None


def test_fault_12_a_rollback_alarm_in_alarm_fails_the_bake_as_the_models_fault(aws: Any) -> None:
    from model_deploy.apply import run_apply

    deployer, clients, _ = aws
    put(deployer, manifest(1))
    queue_answers(clients.url, [0.9], [0.9, 0.1])
    assert run_apply(deployer, "staging").outcome == "applied"
    put(deployer, manifest(2))
    put_alarm(clients, "slipway-staging-5xx", state="ALARM")
    outcome = run_apply(deployer, "staging")
    assert (outcome.outcome, outcome.cause, outcome.rejects) == (
        "rolled-back",
        "model",
        "driver_ranking:2",
    ), outcome.reasons
    assert "CloudWatch alarm(s) in ALARM: slipway-staging-5xx (test: ALARM)" in outcome.reasons[0]
    assert outcome.now_serving == "driver_ranking:1"
    assert sm(clients).describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == (
        outcome.before.details["endpoint_config"] if outcome.before else None
    )


def test_a_missing_rollback_alarm_is_an_infrastructure_failure(aws: Any) -> None:
    from model_deploy.apply import run_apply

    deployer, clients, _ = aws
    put(deployer, manifest(1).replace("slipway-staging-5xx", "no-such-alarm"))
    queue_answers(clients.url, [0.9], [0.9, 0.1])
    outcome = run_apply(deployer, "staging")
    assert (outcome.outcome, outcome.cause, outcome.rejects) == (
        "rolled-back",
        "infrastructure",
        None,
    )
    assert "rollback alarm(s) no-such-alarm do not exist in CloudWatch" in outcome.reasons[0]


def test_fault_06_status_reads_the_endpoint_not_the_history(aws: Any) -> None:
    deployer, clients, _ = aws
    put(deployer, manifest(1))
    queue_answers(clients.url, [0.9], [0.9, 0.1])
    apply_env(deployer, "staging")
    assert status_all(deployer)[0].in_sync
    use_hand_made_config(sm(clients), endpoint=ENDPOINT, instance_count=2)
    (status,) = status_all(deployer)
    assert any(
        "the deploy history says driver_ranking:1" in line
        and "the target serves an unknown version" in line
        for line in status.drift
    ), status.drift
    assert deployer.plan("staging").action == "update"
