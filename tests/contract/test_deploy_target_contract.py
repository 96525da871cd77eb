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

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "model_deploy"))

from deploy_support import GOOD_ROW, FakeRegistry, kill_spawned, register_version
from kits.servers import moto_server
from target_harness import (
    CANARY,
    ENV,
    KEY,
    MODEL,
    Harness,
    LocalHarness,
    SageMakerHarness,
    smoke,
)

from model_build.registry.protocol import ModelVersion
from model_deploy.apply import apply_env, rollback_env
from model_deploy.errors import ApplyFailed, SmokeTestError, TargetError
from model_deploy.smoke import SmokeResult
from model_deploy.state import read_history
from model_deploy.status import status_all
from model_deploy.targets.protocol import ActualState, DeployTarget

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[int, ModelVersion]:
    """Versions 1 and 2 (good models) and 3 (approved, but predicts backwards), with bundles."""
    root = tmp_path_factory.mktemp("contract-bundles")
    registry = FakeRegistry(root / "registry")
    register_version(registry, root, seed=1)
    register_version(registry, root, seed=2, metrics={"roc_auc": 0.84, "log_loss": 0.41})
    register_version(registry, root, seed=3, inverted=True)
    return {number: version for (_, number), version in registry.versions.items()}


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
        KEY, harness.kind, False, False,
    )  # fmt: skip
    assert actual.model_ref is None
    assert actual.traffic == {}
    assert actual.endpoint == manifest.target.endpoint
    assert actual.notes == []
    assert not harness.target.health(env=KEY, manifest=manifest)
    with pytest.raises(TargetError):
        harness.target.invoke(env=KEY, manifest=manifest, instances=[GOOD_ROW])
    harness.target.stop(env=KEY, manifest=manifest)  # nothing to stop: a no-op
    after = harness.target.rollback(env=KEY, manifest=manifest, previous=actual)
    assert not after.deployed
    assert not harness.describe().deployed


def test_describe_of_a_missing_deployment_writes_nothing(harness: Harness, tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob("*"))
    harness.describe()
    harness.target.health(env=KEY, manifest=harness.manifest(1))
    assert sorted(tmp_path.rglob("*")) == before


def test_a_failing_smoke_test_refuses_the_first_deploy(harness: Harness) -> None:
    version, rows, expect = harness.failing_version()
    with pytest.raises(SmokeTestError, match="smoke test"):
        harness.deploy(version, failing=True, rows=rows, expect=expect)
    manifest = harness.manifest(version)
    after = harness.target.rollback(
        env=KEY,
        manifest=manifest,
        previous=ActualState(env=KEY, target=harness.target.kind, deployed=False),
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
    after = harness.target.rollback(env=KEY, manifest=harness.manifest(version), previous=before)
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
    assert harness.target.health(env=KEY, manifest=request.manifest)
    answer = harness.target.invoke(env=KEY, manifest=request.manifest, instances=[GOOD_ROW])
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
    harness.target.stop(env=KEY, manifest=manifest)
    actual = harness.target.describe(env=KEY, manifest=manifest)
    assert not actual.deployed
    assert actual.traffic == {}
    assert not harness.target.health(env=KEY, manifest=manifest)
    harness.assert_gone()
    harness.target.stop(env=KEY, manifest=manifest)  # twice is fine


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
    (status,) = status_all(harness.deployer)
    assert (status.serving_ref, status.healthy, status.in_sync) == (f"{MODEL}:1", True, False)
    assert not any("outside slipway" in note for note in actual.notes), actual.notes
    history = read_history(state_dir=harness.deployer.state_dir, env=KEY)
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


def test_reconcile_keeps_a_converged_deployment_and_copes_with_nothing(harness: Harness) -> None:
    manifest = harness.manifest(1)
    assert not harness.target.reconcile(env=KEY, manifest=manifest).deployed
    harness.deploy(1)
    before = harness.describe()
    after = harness.target.reconcile(env=KEY, manifest=manifest)
    assert after == before
    assert (after.model_ref, after.healthy, after.traffic) == (
        f"{MODEL}:1",
        True,
        {f"{MODEL}:1": 100.0},
    )
