"""The two DeployTargets driven the same way, for the contract suite.

``tests/contract/test_deploy_target_contract.py`` runs every test against a
:class:`LocalHarness` (real inference processes behind the router on 127.0.0.1) and a
:class:`SageMakerHarness` (a moto server on 127.0.0.1). A harness writes the manifest's target
block, prepares smoke answers, and says how its target shows what only it can show (traffic
shared by the router, the ``DeploymentConfig`` SageMaker got, what a broken state record is).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    BAD_ROW,
    GOOD_ROW,
    FakeRegistry,
    Poller,
    kill_spawned,
    make_deployer,
    write_manifest,
)
from sagemaker_support import (
    IMAGE,
    PACKAGE_ARN,
    ROLE,
    Clients,
    queue_answers,
    reset_moto,
    use_hand_made_config,
)

from foundation.ports import free_port
from model_build.registry.protocol import ModelVersion
from model_deploy.manifest import parse_manifest
from model_deploy.manifest.model import Manifest
from model_deploy.service import Deployer
from model_deploy.smoke import SmokeResult, require_passed, run_smoke_tests
from model_deploy.targets import processes
from model_deploy.targets.local import LocalTarget
from model_deploy.targets.local_state import EnvFiles
from model_deploy.targets.protocol import (
    ActualState,
    DeployRequest,
    DeployTarget,
    Invoker,
    Verifier,
)
from model_deploy.targets.sagemaker import SageMakerTarget

ENV = "staging"
#: The deployment the harness deploys: the model in ENV.
KEY = f"{ENV}/driver_ranking"
ENDPOINT = "slipway-contract"
MODEL = "driver_ranking"
OTHER_ROW = {**GOOD_ROW, "avg_daily_trips": 20}  # a new request body gets a new canned answer
CANARY = "{type: canary, percent: 50, bake_minutes: 0.04}"


class Harness:
    """One target under contract, with what a test needs to drive it."""

    kind: str
    registry_kind: str
    target: DeployTarget
    deployer: Deployer
    registry: FakeRegistry

    def target_yaml(self) -> str:
        """The manifest's ``target`` and ``data_capture`` blocks."""
        raise NotImplementedError

    def expect_answers(self, *, failing: bool) -> None:
        """Make the next smoke tests pass (or fail, ``failing``)."""

    def failing_version(self) -> tuple[int, list[dict[str, Any]], str]:
        """A version, smoke rows and an ``expect`` block whose smoke test fails."""
        raise NotImplementedError

    @contextmanager
    def observing(self) -> Iterator[dict[str, Any]]:
        """Record how traffic moved during the block (see :meth:`assert_canary`)."""
        yield {}

    def assert_canary(self, seen: dict[str, Any], *, old: ModelVersion, new: ModelVersion) -> None:
        """The canary really shared traffic (local) or was handed to SageMaker (config)."""
        raise NotImplementedError

    def assert_gone(self) -> None:
        """Nothing of the deployment runs any more."""
        raise NotImplementedError

    def break_state(self) -> None:
        """Make the record of what serves unreadable."""
        raise NotImplementedError

    def bundle_dir(self, version: ModelVersion) -> Path | None:
        """The local copy of a bundle the target needs (None for SageMaker)."""
        return None

    # -- shared --------------------------------------------------------------------------

    def text(
        self,
        version: int | None,
        *,
        strategy: str = "{type: all_at_once}",
        rows: list[dict[str, Any]] | None = None,
        expect: str = "{probability: {min: 0.0, max: 1.0}}",
    ) -> str:
        model = (
            "model: null"
            if version is None
            else f"model: {{registry: {self.registry_kind}, name: {MODEL}, version: {version}, "
            "feature_service: driver_ranking_v1}"
        )
        first, second = rows or [GOOD_ROW, BAD_ROW]
        return f"""\
environment: {ENV}
{model}
{self.target_yaml()}
strategy: {strategy}
smoke_tests:
  - name: one row
    instances: [{json.dumps(first)}]
    expect: {expect}
  - name: two rows
    instances: [{json.dumps(first)}, {json.dumps(second)}]
"""

    def manifest(self, version: int | None, **kwargs: Any) -> Manifest:
        return parse_manifest(text=self.text(version, **kwargs), source=f"{ENV}.yaml").manifest

    def put(self, version: int | None, **kwargs: Any) -> None:
        write_manifest(
            self.deployer.settings.deploy_manifests_dir, ENV, self.text(version, **kwargs)
        )

    def request(self, version: int, **kwargs: Any) -> DeployRequest:
        loaded = parse_manifest(text=self.text(version, **kwargs), source=f"{ENV}.yaml")
        record = self.registry.get(model_name=MODEL, version=version)
        return DeployRequest(
            env=KEY,
            manifest=loaded.manifest,
            manifest_hash=loaded.content_hash,
            version=record,
            bundle_dir=self.bundle_dir(record),
            git_sha="0123456789abcdef",
        )

    def deploy(self, version: int, *, failing: bool = False, **kwargs: Any) -> ActualState:
        request = self.request(version, **kwargs)
        self.expect_answers(failing=failing)
        return self.target.deploy(request=request, verify=smoke(request))

    def describe(self, version: int | None = 1) -> ActualState:
        return self.target.describe(env=KEY, manifest=self.manifest(version))


def smoke(request: DeployRequest, results: list[SmokeResult] | None = None) -> Verifier:
    """The smoke tests of the request's manifest, as the deployer runs them."""

    def verify(invoke: Invoker) -> None:
        found = run_smoke_tests(
            request.manifest.smoke_tests,
            invoke=invoke,
            expected_digest=request.version.artifact_digest,
        )
        if results is not None:
            results.extend(found)
        require_passed(found)

    return verify


class LocalHarness(Harness):
    kind = "local"
    registry_kind = "local"

    def __init__(self, tmp_path: Path, built: dict[int, ModelVersion]) -> None:
        self.registry = FakeRegistry(tmp_path / "registry")
        self.registry.versions = {(MODEL, n): v for n, v in built.items()}
        self.port = free_port()
        self.deployer = make_deployer(tmp_path, self.registry)
        self.target = self.deployer.target("local")
        assert isinstance(self.target, LocalTarget)
        self.files = EnvFiles(self.deployer.state_dir / KEY)

    def target_yaml(self) -> str:
        capture = "data_capture: {sampling_percentage: 100}"
        return f"target: {{kind: local, port: {self.port}}}\n{capture}"

    def bundle_dir(self, version: ModelVersion) -> Path | None:
        return Path(version.artifact_uri)

    def failing_version(self) -> tuple[int, list[dict[str, Any]], str]:
        return 3, [GOOD_ROW, BAD_ROW], "{label: 1}"  # version 3 predicts backwards

    @contextmanager
    def observing(self) -> Iterator[dict[str, Any]]:
        with Poller(self.port) as poller:
            yield {"poller": poller}

    def assert_canary(self, seen: dict[str, Any], *, old: ModelVersion, new: ModelVersion) -> None:
        poller: Poller = seen["poller"]
        assert poller.failures == []
        counts = Counter(poller.digests)
        assert counts[old.artifact_digest] > 3, counts  # both served while the canary baked
        assert counts[new.artifact_digest] > 3, counts

    def assert_gone(self) -> None:
        assert processes.port_is_free(self.port)
        assert all(p.poll() is not None for p in processes._CHILDREN.values())

    def break_state(self) -> None:
        kill_spawned()
        self.files.state.write_text("{not json", encoding="utf-8")


class SageMakerHarness(Harness):
    kind = "sagemaker"
    registry_kind = "sagemaker"

    def __init__(self, tmp_path: Path, built: dict[int, ModelVersion], url: str) -> None:
        reset_moto(url)
        self.url = url
        self.registry = FakeRegistry(tmp_path / "registry")
        for number, version in built.items():
            self.registry.versions[(MODEL, number)] = version.model_copy(
                update={
                    "arn": PACKAGE_ARN.format(number) if number == 1 else None,
                    "artifact_uri": f"s3://slipway-models/{MODEL}/{number}/model.tar.gz",
                }
            )
        self.clients = Clients(url)
        self._queued: set[bool] = set()
        target = SageMakerTarget(clients=self.clients, wait_timeout=10, poll_seconds=0.01)
        self.target = target
        self.deployer = make_deployer(tmp_path, self.registry, targets={"sagemaker": target})

    def target_yaml(self) -> str:
        return f"""\
target:
  kind: sagemaker
  endpoint_name: {ENDPOINT}
  instance_type: ml.m5.large
  instance_count: 1
  execution_role_arn: {ROLE}
  image_uri: {IMAGE}
data_capture: {{sampling_percentage: 100, destination: s3://slipway-capture/{ENV}}}"""

    def expect_answers(self, *, failing: bool) -> None:
        # moto answers each new request body with the next queued result and then repeats it,
        # so each set of smoke bodies is queued once (a leftover would answer the next body)
        if failing in self._queued:
            return
        self._queued.add(failing)
        if failing:
            queue_answers(self.url, [1.7], [0.9])  # the OTHER_ROW bodies
        else:
            queue_answers(self.url, [0.9], [0.9, 0.1])  # the GOOD_ROW bodies

    def failing_version(self) -> tuple[int, list[dict[str, Any]], str]:
        return 2, [OTHER_ROW, BAD_ROW], "{probability: {min: 0.0, max: 1.0}}"

    @contextmanager
    def observing(self) -> Iterator[dict[str, Any]]:
        self.clients.updates.clear()
        yield {"updates": self.clients.updates}

    def assert_canary(self, seen: dict[str, Any], *, old: ModelVersion, new: ModelVersion) -> None:
        (update,) = seen["updates"]
        routing = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
        assert routing == {
            "Type": "CANARY",
            "WaitIntervalInSeconds": 2,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
        }

    def assert_gone(self) -> None:
        from botocore.exceptions import ClientError

        with pytest.raises(ClientError, match="Could not find endpoint"):
            self.clients("sagemaker").describe_endpoint(EndpointName=ENDPOINT)

    def break_state(self) -> None:
        """Point the endpoint at a hand-made config: no slipway tags say what it serves."""
        use_hand_made_config(self.clients("sagemaker"), endpoint=ENDPOINT, instance_count=1)
