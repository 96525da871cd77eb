"""One contract for every DeployTarget: local processes behind a router, and SageMaker on moto.

Every test runs against both targets for real: the local target starts inference processes and
its router on 127.0.0.1 (free ports, state under ``tmp_path``, every process killed after each
test); the SageMaker target talks HTTP to a moto server on 127.0.0.1 with the ``update_endpoint``
patch (one server per module, reset before each test). Where the two really differ, the test
says so with ``if harness.kind == ...`` and a comment, never silently:

- smoke answers: the local target serves real predictions; moto answers what the test queued;
- a failed deploy: the local target has already routed back to the old backend when ``deploy``
  raises; a SageMaker endpoint keeps the new config until ``rollback`` points it back;
- a broken state record: the local target's unreadable ``target.json`` reads as nothing
  deployed; a SageMaker endpoint whose config lost its slipway tags is deployed but serves an
  unknown version;
- traffic strategies: the local router shares traffic itself (observed by a poller); SageMaker
  gets a blue/green ``DeploymentConfig`` (recorded from the ``update_endpoint`` call).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "model_deploy"))

from deploy_support import (
    BAD_ROW,
    GOOD_ROW,
    FakeRegistry,
    Poller,
    kill_spawned,
    make_deployer,
    register_version,
    write_manifest,
)
from sagemaker_support import (
    IMAGE,
    PACKAGE_ARN,
    ROLE,
    Clients,
    moto_server,
    queue_answers,
    reset_moto,
    use_hand_made_config,
)

from foundation.ports import free_port
from model_build.registry.protocol import ModelVersion
from model_deploy.apply import apply_env, rollback_env
from model_deploy.errors import ApplyFailed, SmokeTestError, TargetError
from model_deploy.manifest import parse_manifest
from model_deploy.manifest.model import Manifest
from model_deploy.service import Deployer
from model_deploy.smoke import SmokeResult, require_passed, run_smoke_tests
from model_deploy.state import read_history
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

pytestmark = pytest.mark.integration

ENV = "staging"
ENDPOINT = "slipway-contract"
MODEL = "driver_ranking"
OTHER_ROW = {**GOOD_ROW, "avg_daily_trips": 20}  # a new request body gets a new canned answer
CANARY = "{type: canary, percent: 50, bake_minutes: 0.04}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[int, ModelVersion]:
    """Versions 1 and 2 (good models) and 3 (approved, but predicts backwards), with bundles."""
    root = tmp_path_factory.mktemp("contract-bundles")
    registry = FakeRegistry(root / "registry")
    register_version(registry, root, seed=1)
    register_version(registry, root, seed=2, metrics={"roc_auc": 0.84, "log_loss": 0.41})
    register_version(registry, root, seed=3, inverted=True)
    return {number: version for (_, number), version in registry.versions.items()}


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
            env=ENV,
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
        return self.target.describe(env=ENV, manifest=self.manifest(version))


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
        self.files = EnvFiles(self.deployer.state_dir / ENV)

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


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(params=["local", "sagemaker"])
def harness(
    request: pytest.FixtureRequest, tmp_path: Path, built: dict[int, ModelVersion]
) -> Iterator[Harness]:
    if request.param == "local":
        try:
            yield LocalHarness(tmp_path, built)
        finally:
            kill_spawned()
        return
    yield SageMakerHarness(tmp_path, built, request.getfixturevalue("moto_url"))


# -- failure paths first ----------------------------------------------------------------------


def test_satisfies_the_protocol(harness: Harness) -> None:
    assert isinstance(harness.target, DeployTarget)
    assert harness.target.kind == harness.kind


def test_nothing_deployed_reads_as_absent_and_every_call_copes(harness: Harness) -> None:
    manifest = harness.manifest(1)
    actual = harness.describe()
    assert (actual.env, actual.target, actual.deployed, actual.healthy) == (
        ENV, harness.kind, False, False,
    )  # fmt: skip
    assert actual.model_ref is None
    assert actual.traffic == {}
    assert actual.endpoint == manifest.target.endpoint
    assert actual.notes == []
    assert not harness.target.health(env=ENV, manifest=manifest)
    with pytest.raises(TargetError):
        harness.target.invoke(env=ENV, manifest=manifest, instances=[GOOD_ROW])
    harness.target.stop(env=ENV, manifest=manifest)  # nothing to stop: a no-op
    after = harness.target.rollback(env=ENV, manifest=manifest, previous=actual)
    assert not after.deployed
    assert not harness.describe().deployed


def test_describe_of_a_missing_deployment_writes_nothing(harness: Harness, tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob("*"))
    harness.describe()
    harness.target.health(env=ENV, manifest=harness.manifest(1))
    assert sorted(tmp_path.rglob("*")) == before


def test_a_failing_smoke_test_refuses_the_first_deploy(harness: Harness) -> None:
    version, rows, expect = harness.failing_version()
    with pytest.raises(SmokeTestError, match="smoke test"):
        harness.deploy(version, failing=True, rows=rows, expect=expect)
    manifest = harness.manifest(version)
    after = harness.target.rollback(
        env=ENV,
        manifest=manifest,
        previous=ActualState(env=ENV, target=harness.target.kind, deployed=False),
    )
    assert not after.deployed  # nothing served before: the rollback removes the new endpoint
    assert not harness.describe().deployed
    harness.assert_gone()


def test_a_failing_smoke_test_during_an_update_goes_back_to_the_old_version(
    harness: Harness,
) -> None:
    harness.deploy(1)
    before = harness.describe()
    version, rows, expect = harness.failing_version()
    with pytest.raises(SmokeTestError, match="smoke test"):
        harness.deploy(version, failing=True, rows=rows, expect=expect)
    midway = harness.describe()
    if harness.kind == "local":
        # the local target routes back to the old backend before deploy raises
        assert midway.model_ref == before.model_ref
    else:
        # the SageMaker endpoint keeps the new config until rollback points it back
        assert midway.model_ref == f"{MODEL}:{version}"
    after = harness.target.rollback(env=ENV, manifest=harness.manifest(version), previous=before)
    assert after.model_ref == before.model_ref == f"{MODEL}:1"
    assert after.healthy
    assert after.manifest_hash == before.manifest_hash
    assert after.traffic == {f"{MODEL}:1": 100.0}


def test_a_broken_state_record_is_a_note_and_a_deploy_heals_it(harness: Harness) -> None:
    harness.deploy(1)
    harness.break_state()
    actual = harness.describe()
    assert actual.model_ref is None
    if harness.kind == "local":
        # an unreadable target.json reads as nothing deployed (its processes are gone too)
        assert (actual.deployed, actual.healthy) == (False, False)
        assert any("corrupt; ignoring it" in note for note in actual.notes), actual.notes
    else:
        # the endpoint still runs, but no tag says which version its config serves
        assert (actual.deployed, actual.healthy) == (True, True)
        assert "endpoint config hand-made was not created by slipway" in actual.notes
    healed = harness.deploy(1)
    assert healed.model_ref == f"{MODEL}:1"
    assert healed.healthy
    assert healed.notes == []


# -- deploy, describe, update, strategies, stop ---------------------------------------------


def test_deploy_new_then_describe_reads_it_back(harness: Harness) -> None:
    results: list[SmokeResult] = []
    request = harness.request(1)
    harness.expect_answers(failing=False)
    deployed = harness.target.deploy(request=request, verify=smoke(request, results))
    assert [r.passed for r in results] == [True, True]
    actual = harness.describe()
    assert actual == deployed
    assert (actual.deployed, actual.healthy, actual.model_ref) == (True, True, f"{MODEL}:1")
    assert actual.artifact_digest == request.version.artifact_digest
    assert actual.manifest_hash == request.manifest_hash
    assert actual.git_sha == "0123456789abcdef"
    assert actual.endpoint == request.manifest.target.endpoint
    assert actual.traffic == {f"{MODEL}:1": 100.0}
    assert actual.data_capture_percentage == 100
    assert actual.strategy == "all at once"
    assert actual.notes == []
    assert harness.target.health(env=ENV, manifest=request.manifest)
    answer = harness.target.invoke(env=ENV, manifest=request.manifest, instances=[GOOD_ROW])
    assert len(answer["predictions"]) == 1
    assert 0.0 <= answer["predictions"][0]["probability"] <= 1.0


def test_update_to_another_version(harness: Harness) -> None:
    harness.deploy(1)
    updated = harness.deploy(2)
    assert updated.model_ref == f"{MODEL}:2"
    assert updated.healthy
    assert updated.traffic == {f"{MODEL}:2": 100.0}
    assert (
        updated.artifact_digest == harness.registry.get(model_name=MODEL, version=2).artifact_digest
    )
    assert harness.describe(2) == updated


def test_canary_ends_with_all_traffic_on_the_new_version(harness: Harness) -> None:
    harness.deploy(1)
    with harness.observing() as seen:
        updated = harness.deploy(2, strategy=CANARY)
    assert updated.strategy == "canary 50% / bake 0.04 min"
    assert updated.traffic == {f"{MODEL}:2": 100.0}
    old, new = (harness.registry.get(model_name=MODEL, version=n) for n in (1, 2))
    harness.assert_canary(seen, old=old, new=new)


def test_stop_tears_everything_down(harness: Harness) -> None:
    harness.deploy(1)
    manifest = harness.manifest(None)
    harness.target.stop(env=ENV, manifest=manifest)
    actual = harness.target.describe(env=ENV, manifest=manifest)
    assert not actual.deployed
    assert actual.traffic == {}
    assert not harness.target.health(env=ENV, manifest=manifest)
    harness.assert_gone()
    harness.target.stop(env=ENV, manifest=manifest)  # twice is fine


# -- through the deployer: plan, apply, no-op, rollback, teardown ----------------------------


def test_apply_then_reapply_is_a_noop_that_touches_nothing(harness: Harness) -> None:
    harness.put(1)
    assert harness.deployer.plan(ENV).action == "create"
    harness.expect_answers(failing=False)
    result = apply_env(harness.deployer, ENV)
    assert result.outcome == "deployed"
    assert [s.passed for s in result.smoke_tests] == [True, True]
    before = harness.describe()
    again = apply_env(harness.deployer, ENV)
    assert again.outcome == "noop"
    assert again.smoke_tests == []
    assert harness.describe() == before  # same processes / same endpoint config
    assert harness.deployer.plan(ENV).in_sync
    if harness.kind == "sagemaker":
        assert harness.clients.updates == []  # created once, never updated


def test_a_failed_apply_is_rolled_back_and_recorded(harness: Harness) -> None:
    harness.put(1)
    harness.expect_answers(failing=False)
    apply_env(harness.deployer, ENV)
    before = harness.describe()
    version, rows, expect = harness.failing_version()
    harness.put(version, rows=rows, expect=expect)
    harness.expect_answers(failing=True)
    with pytest.raises(ApplyFailed) as caught:
        apply_env(harness.deployer, ENV)
    assert caught.value.restored
    assert "smoke test(s) failed" in str(caught.value)
    actual = harness.describe()
    assert (actual.model_ref, actual.healthy) == (f"{MODEL}:1", True)
    assert actual == before  # the same processes, or the same endpoint config, as before
    assert not any("outside slipway" in note for note in actual.notes), actual.notes
    history = read_history(state_dir=harness.deployer.state_dir, env=ENV)
    assert [r.outcome for r in history.records] == ["succeeded", "rolled_back"]


def test_rollback_redeploys_the_previous_version(harness: Harness) -> None:
    for version in (1, 2):
        harness.put(version)
        harness.expect_answers(failing=False)
        apply_env(harness.deployer, ENV)
    result = rollback_env(harness.deployer, ENV)
    assert result.outcome == "rolled_back_to_previous"
    assert result.after.model_ref == f"{MODEL}:1"
    assert result.after.healthy
    assert harness.describe().model_ref == f"{MODEL}:1"


def test_model_null_tears_down_through_apply(harness: Harness) -> None:
    harness.put(1)
    harness.expect_answers(failing=False)
    apply_env(harness.deployer, ENV)
    harness.put(None)
    assert harness.deployer.plan(ENV).action == "destroy"
    assert apply_env(harness.deployer, ENV).outcome == "torn_down"
    assert not harness.deployer.plan(ENV).actual.deployed
    harness.assert_gone()
    assert apply_env(harness.deployer, ENV).outcome == "noop"
