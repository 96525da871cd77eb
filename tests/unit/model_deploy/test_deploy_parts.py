"""Small parts: smoke checks, history, processes, SageMaker waits and request builders."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from model_build.registry.protocol import ApprovalStatus, ModelVersion
from model_deploy.errors import DeployError, SmokeTestError, TargetError
from model_deploy.manifest import parse_manifest
from model_deploy.manifest.model import SmokeCase
from model_deploy.smoke import check_answer, require_passed, run_smoke_tests
from model_deploy.state import DeploymentRecord, append_history, previous_deployment, read_history
from model_deploy.targets import processes
from model_deploy.targets import sagemaker_spec as spec
from model_deploy.targets.protocol import DeployRequest
from model_deploy.targets.sagemaker import SageMakerTarget
from model_deploy.targets.waiting import poll_until, watch_for

CASE = SmokeCase.model_validate(
    {"name": "c", "instances": [{"a": 1}, {"a": 2}], "expect": {"label": 1}}
)


def answer(*probs: float, labels: list[Any] | None = None, digest: str | None = None) -> Any:
    labels = labels or [1] * len(probs)
    body: dict[str, Any] = {
        "predictions": [
            {"probability": p, "label": lab} for p, lab in zip(probs, labels, strict=True)
        ]
    }
    if digest:
        body["model"] = {"digest": digest}
    return body


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (answer(0.9, 0.8), None),
        ({"nope": 1}, "the answer has no 'predictions' list"),
        (answer(0.9), "expected 2 predictions, got 1"),
        (answer(0.9, 1.5), "prediction 1: probability 1.5 is outside [0.0, 1.0]"),
        (answer(0.9, 0.8, labels=[1, 0]), "prediction 1: label 0, expected 1"),
        (answer(0.9, 0.8, labels=[1, True]), "prediction 1: label True is not one of 0, 1"),
        (
            {"predictions": [{"probability": "x", "label": 1}, {}]},
            "prediction 0: probability 'x' is not a finite number",
        ),
        (
            {"predictions": [{"probability": 0.5}, {}]},
            "prediction 0: the answer is not a binary one ({probability, label}); it has "
            "['probability']",
        ),
        (
            answer(0.9, 0.8, digest="sha256:other"),
            "the endpoint serves sha256:other, expected sha256:mine",
        ),
    ],
)
def test_check_answer(body: Any, problem: str | None) -> None:
    assert check_answer(CASE, answer=body, expected_digest="sha256:mine") == problem


MULTI = SmokeCase.model_validate(
    {"name": "m", "instances": [{"a": 1}], "expect": {"label": "urgent"}}
)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"probabilities": {"low": 0.1, "normal": 0.2, "urgent": 0.7}, "label": "urgent"}, None),
        (
            {"probability": 0.7, "label": "urgent"},
            "prediction 0: the answer is not a multiclass one ({probabilities, label}); it has "
            "['label', 'probability']",
        ),
        (
            {"probabilities": {"low": 0.5, "normal": 0.2, "urgent": 0.7}, "label": "urgent"},
            "prediction 0: the class probabilities sum to 1.4, not 1",
        ),
        (
            {"probabilities": {"low": 0.1, "normal": 0.2, "urgent": 0.7}, "label": "high"},
            "prediction 0: label 'high' is not one of the classes answered (low, normal, urgent)",
        ),
        (
            {"probabilities": {"low": 0.1, "normal": 0.9, "urgent": 0.0}, "label": "normal"},
            "prediction 0: label 'normal', expected 'urgent'",
        ),
        (
            {"probabilities": {"low": -0.1, "normal": 0.4, "urgent": 0.7}, "label": "urgent"},
            "prediction 0: the probability of class 'low' (-0.1) is outside [0.0, 1.0]",
        ),
        (
            {"probabilities": {"x": 1.0}, "label": "x"},
            "prediction 0: 1 class probability: a multiclass answer has one per class",
        ),
    ],
)
def test_check_answer_multiclass(row: dict[str, Any], problem: str | None) -> None:
    body = {"predictions": [row]}
    assert check_answer(MULTI, answer=body, expected_digest=None, task="multiclass") == problem


FARE = SmokeCase.model_validate(
    {"name": "f", "instances": [{"a": 1}], "expect": {"prediction": {"min": 0, "max": 100}}}
)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"prediction": 12.5}, None),
        ({"prediction": 0}, None),
        ({"prediction": 150.0}, "prediction 0: prediction 150.0 is above the maximum 100.0"),
        ({"prediction": -1.0}, "prediction 0: prediction -1.0 is below the minimum 0.0"),
        ({"prediction": float("nan")}, "prediction 0: prediction nan is not a finite number"),
        ({"prediction": True}, "prediction 0: prediction True is not a finite number"),
        (
            {"probability": 0.3, "label": 0},
            "prediction 0: the answer is not a regression one ({prediction}); it has "
            "['label', 'probability']",
        ),
    ],
)
def test_check_answer_regression(row: dict[str, Any], problem: str | None) -> None:
    body = {"predictions": [row]}
    assert check_answer(FARE, answer=body, expected_digest=None, task="regression") == problem


def test_expectations_that_do_not_fit_the_task_are_named() -> None:
    from model_deploy.smoke import expectation_problems

    assert expectation_problems(FARE, task="regression") == []
    assert expectation_problems(FARE, task="binary") == [
        "expect.prediction (a binary model answers probabilities and a label)"
    ]
    assert expectation_problems(CASE, task="regression") == [
        "expect.label (a regression model answers a prediction)"
    ]
    two = SmokeCase.model_validate({"name": "t", "instances": [{"a": 1}], "expect": {"label": 2}})
    assert expectation_problems(two, task="binary") == [
        "expect.label 2 (a binary label is one of [0, 1])"
    ]
    assert expectation_problems(two, task="multiclass") == []


def test_run_smoke_tests_reports_request_failures_per_case() -> None:
    def broken(rows: list[dict[str, Any]]) -> dict[str, Any]:
        raise TargetError("POST /invocations answered 422: unknown feature a")

    results = run_smoke_tests([CASE], invoke=broken)
    assert not results[0].passed
    assert "answered 422" in results[0].message
    with pytest.raises(SmokeTestError, match="1 smoke test"):
        require_passed(results)
    require_passed(run_smoke_tests([CASE], invoke=lambda rows: answer(0.9, 0.9)))


def record(version: int, digest: str, outcome: str = "succeeded") -> DeploymentRecord:
    return DeploymentRecord.model_validate(
        {
            "action": "apply",
            "outcome": outcome,
            "model_ref": f"m:{version}",
            "version": version,
            "manifest_hash": digest,
            "manifest": {},
        }
    )


def test_corrupt_history_lines_are_skipped_with_a_warning(tmp_path: Path) -> None:
    append_history(state_dir=tmp_path, env="dev", record=record(1, "h1"))
    with (tmp_path / "dev" / "history.jsonl").open("a") as handle:
        handle.write('garbage\n\n{"action": "apply"}\n')
    append_history(state_dir=tmp_path, env="dev", record=record(2, "h2"))
    history = read_history(state_dir=tmp_path, env="dev")
    assert [r.version for r in history.records] == [1, 2]
    (warning,) = history.warnings
    assert "skipped 2 unreadable line(s) (2, 4)" in warning
    assert "history.jsonl" in warning
    assert read_history(state_dir=tmp_path, env="qa").warnings == []


def test_unreadable_history_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "dev" / "history.jsonl").mkdir(parents=True)  # a folder where the file goes
    with pytest.raises(DeployError, match=r"cannot read the deploy history .*history\.jsonl"):
        read_history(state_dir=tmp_path, env="dev")


def test_history_round_trip_and_previous_deployment(tmp_path: Path) -> None:
    for item in (record(1, "h1"), record(2, "h2"), record(3, "h3", "rolled_back")):
        append_history(state_dir=tmp_path, env="dev", record=item)
    history = read_history(state_dir=tmp_path, env="dev").records
    assert [r.version for r in history] == [1, 2, 3]
    assert previous_deployment(history, current_hash="h2", current_version=2).version == 1
    assert previous_deployment(history, current_hash="h1", current_version=1).version == 2
    assert previous_deployment([record(1, "h1")], current_hash="h1", current_version=1) is None


def test_processes_never_trust_a_foreign_or_dead_pid() -> None:
    bystander = subprocess.Popen(["sleep", "30"])
    deadline = time.monotonic() + 5  # right after exec, /proc/<pid>/cmdline may still be empty
    while not processes.cmdline(bystander.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert not processes.is_running(bystander.pid, marker="model_deploy.targets.local_router")
        processes.stop(bystander.pid, marker="model_deploy.targets.local_router", timeout=0.1)
        assert bystander.poll() is None
        assert processes.is_running(bystander.pid, marker="sleep 30")
    finally:
        bystander.kill()
        bystander.wait()
    assert not processes.is_running(bystander.pid, marker="sleep")
    assert not processes.is_running(None, marker="x")
    assert not processes.is_running(1, marker="init")


class FakeSageMaker:
    """describe_endpoint answers a scripted list of statuses."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    def describe_endpoint(self, **_: Any) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {
            "EndpointName": "e",
            "EndpointArn": "arn",
            "EndpointConfigName": "c",
            "EndpointStatus": status,
            "FailureReason": "image not found",
        }


def target_with(statuses: list[str], timeout: float = 0.2) -> SageMakerTarget:
    return SageMakerTarget(
        clients=lambda service: FakeSageMaker(statuses), wait_timeout=timeout, poll_seconds=0.01
    )


def test_poll_until_returns_the_first_value_fails_early_or_times_out() -> None:
    answers = iter([None, None, "ready"])
    sleeps: list[float] = []
    found = poll_until(
        lambda: next(answers), timeout=5, interval=0.5, on_timeout=lambda: "x", sleep=sleeps.append
    )
    assert (found, sleeps) == ("ready", [0.5, 0.5])

    def broken() -> None:
        raise TargetError("process 7 exited")

    with pytest.raises(TargetError, match="process 7 exited"):
        poll_until(broken, timeout=5, interval=0.1, on_timeout=lambda: "x")
    started = time.monotonic()
    with pytest.raises(TargetError, match=r"^still Creating$"):
        poll_until(lambda: None, timeout=0.05, interval=0.01, on_timeout=lambda: "still Creating")
    assert time.monotonic() - started < 1.0


def test_watch_for_checks_until_the_end_and_stops_at_the_first_failure() -> None:
    calls: list[int] = []
    watch_for(lambda: calls.append(1), seconds=0, interval=1.0)
    assert calls == [1]  # checked once even with nothing to wait for
    started = time.monotonic()
    watch_for(lambda: calls.append(1), seconds=0.1, interval=0.02)
    assert 0.1 <= time.monotonic() - started < 1.0
    assert len(calls) > 3
    state = {"left": 2}

    def sickens() -> None:
        state["left"] -= 1
        if state["left"] < 0:
            raise TargetError("fails /ping")

    with pytest.raises(TargetError, match="fails /ping"):
        watch_for(sickens, seconds=5, interval=0.001)


def test_wait_polls_until_in_service_and_times_out_or_fails() -> None:
    assert (
        target_with(["Creating", "Updating", "InService"], timeout=10)._wait_in_service("e")[
            "EndpointStatus"
        ]
        == "InService"
    )
    with pytest.raises(
        TargetError, match=r"timed out after 0.2 s waiting for InService .*Creating"
    ):
        target_with(["Creating"])._wait_in_service("e")
    with pytest.raises(TargetError, match="endpoint e failed: image not found"):
        target_with(["Creating", "Failed"])._wait_in_service("e")


def test_clients_are_made_lazily() -> None:
    made: list[str] = []
    SageMakerTarget(clients=lambda service: made.append(service))
    assert made == []


MANIFEST = """\
environment: prod
model: {registry: sagemaker, name: driver_ranking, version: 7, feature_service: fs}
target:
  kind: sagemaker
  endpoint_name: a-very-long-endpoint-name-that-goes-on-and-on-and-on-forever-x
  instance_type: ml.m5.large
  instance_count: 1
  execution_role_arn: arn:aws:iam::123456789012:role/sm
strategy: {type: linear, step_percent: 20, interval_minutes: 2}
"""


def request(arn: str | None, uri: str) -> DeployRequest:
    loaded = parse_manifest(text=MANIFEST, source="prod.yaml")
    version = ModelVersion(
        model_name="driver_ranking", version=7, status=ApprovalStatus.APPROVED,
        artifact_digest="sha256:" + "1" * 64, artifact_uri=uri, metrics={}, feature_service="fs",
        features=["a"], created_at=datetime(2026, 1, 1, tzinfo=UTC), arn=arn,
    )  # fmt: skip
    return DeployRequest(
        env="prod", manifest=loaded.manifest, manifest_hash=loaded.content_hash,
        version=version, bundle_dir=None, git_sha="abc",
    )  # fmt: skip


def test_resource_names_fit_sagemaker_limits() -> None:
    name = spec.resource_name(endpoint="e" * 63, version=12, manifest_hash="sha256:abcdef0123")
    assert len(name) <= 63
    assert name.endswith("-v12-abcdef01")


def test_request_builders() -> None:
    with_package = request("arn:aws:sagemaker:us-east-1:1:model-package/g/7", "s3://b/m.tar.gz")
    assert spec.primary_container(with_package) == {
        "ModelPackageName": "arn:aws:sagemaker:us-east-1:1:model-package/g/7"
    }
    with pytest.raises(TargetError, match=r"needs target\.image_uri"):
        spec.primary_container(request(None, "/local/bundle"))
    config = spec.deployment_config(with_package.manifest)
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 120,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
    }
    assert "AutoRollbackConfiguration" not in config
    body = spec.endpoint_config_request(request=with_package, name="n")
    assert "DataCaptureConfig" not in body
    tags = spec.tag_dict(body["Tags"])
    assert tags["slipway:version"] == "7"
    assert tags["slipway:git-sha"] == "abc"
    assert tags["slipway:strategy"] == "linear 20% every 2 min"
