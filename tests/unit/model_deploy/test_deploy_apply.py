"""Apply, rollback, status and the lock, against an in-memory target (no processes)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    MODEL,
    FakeRegistry,
    env_texts,
    key,
    local_manifest,
    make_deployer,
    register_version,
    write_environments,
    write_manifest,
)
from fake_target import FakeTarget

from model_build.errors import RegistryError
from model_build.registry.protocol import ApprovalStatus
from model_deploy.apply import apply_env, rollback_env
from model_deploy.errors import (
    ApplyFailed,
    LockedError,
    ManifestError,
    NoPreviousDeploymentError,
    PolicyViolation,
)
from model_deploy.render import result_text, status_text
from model_deploy.settings import DeploySettings
from model_deploy.state import env_lock, read_history
from model_deploy.status import status_all


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Any, FakeTarget, FakeRegistry]:
    registry = FakeRegistry(tmp_path / "registry")
    register_version(registry, tmp_path, seed=1)
    register_version(registry, tmp_path, seed=2, metrics={"roc_auc": 0.85, "log_loss": 0.4})
    register_version(registry, tmp_path, seed=3, status=ApprovalStatus.PENDING)
    target = FakeTarget()
    deployer = make_deployer(tmp_path, registry, targets={"local": target})
    return deployer, target, registry


def manifests(deployer: Any) -> Path:
    return Path(deployer.settings.deploy_manifests_dir)


def test_apply_deploys_then_is_a_noop(setup: Any) -> None:
    deployer, target, _ = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    result = apply_env(deployer, "dev")
    assert result.outcome == "deployed"
    assert result.after.model_ref == "driver_ranking:1"
    assert [s.passed for s in result.smoke_tests] == [True, True]
    again = apply_env(deployer, "dev")
    assert again.outcome == "noop"
    assert target.deploys == 1
    history = read_history(state_dir=deployer.state_dir, env=key("dev")).records
    assert [(r.action, r.outcome, r.model_ref) for r in history] == [
        ("apply", "succeeded", "driver_ranking:1")
    ]
    assert history[0].git_sha == "0123456789abcdef"


def test_a_manifest_edit_without_version_change_redeploys(setup: Any) -> None:
    deployer, target, _ = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    apply_env(deployer, "dev")
    text = local_manifest("dev", version=1, port=9001).replace("100", "50", 1)
    write_manifest(manifests(deployer), "dev", text)
    assert deployer.plan("dev").action == "update"
    assert apply_env(deployer, "dev").outcome == "deployed"
    assert target.deploys == 2
    # comments alone do not change the hash
    write_manifest(manifests(deployer), "dev", "# note\n" + text)
    assert apply_env(deployer, "dev").outcome == "noop"


def test_policy_violation_changes_nothing(setup: Any) -> None:
    deployer, target, _ = setup
    write_manifest(manifests(deployer), "staging", local_manifest("staging", version=3, port=9002))
    with pytest.raises(PolicyViolation, match="staging only takes Approved versions"):
        apply_env(deployer, "staging")
    assert target.deploys == 0
    assert read_history(state_dir=deployer.state_dir, env=key("staging")).records == []


def test_unknown_version_is_a_failed_registry_check(setup: Any) -> None:
    deployer, _, _ = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=9, port=9001))
    plan = deployer.plan("dev")
    assert plan.blocked
    assert plan.policies[0].policy == "registry"
    assert "driver_ranking:9" in plan.policies[0].message
    with pytest.raises(PolicyViolation, match="driver_ranking:9"):
        apply_env(deployer, "dev")


def test_prod_needs_staging_serving_the_version(setup: Any) -> None:
    deployer, _, _ = setup
    for env, port in (("staging", 9002), ("prod", 9003)):
        write_manifest(manifests(deployer), env, local_manifest(env, version=2, port=port))
    with pytest.raises(PolicyViolation, match="serves nothing, not driver_ranking:2"):
        apply_env(deployer, "prod")
    apply_env(deployer, "staging")
    assert apply_env(deployer, "prod").outcome == "deployed"


def test_failed_smoke_test_rolls_back_and_records_it(setup: Any) -> None:
    deployer, target, _ = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    apply_env(deployer, "dev")
    target.probability = 0.2  # v2 answers below the expected range
    write_manifest(
        manifests(deployer),
        "dev",
        local_manifest("dev", version=2, port=9001, expect="probability: {min: 0.5, max: 1.0}"),
    )
    with pytest.raises(ApplyFailed) as caught:
        apply_env(deployer, "dev")
    assert caught.value.restored
    assert "smoke test(s) failed: 'strong driver': prediction 0: probability 0.2" in str(
        caught.value
    )
    assert target.describe(env=key("dev"), manifest=deployer.load("dev").manifest).version == 1
    last = read_history(state_dir=deployer.state_dir, env=key("dev")).records[-1]
    assert (last.outcome, last.model_ref) == ("rolled_back", "driver_ranking:2")


def test_target_failure_rolls_back(setup: Any) -> None:
    deployer, target, _ = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    target.fail_deploy = True
    with pytest.raises(ApplyFailed, match="exited while starting; rolled back"):
        apply_env(deployer, "dev")


def test_rollback_goes_to_the_previous_deployment_and_status_shows_drift(setup: Any) -> None:
    deployer, _, _ = setup
    write_environments(manifests(deployer))
    with pytest.raises(ManifestError, match="dev has no manifest"):
        rollback_env(deployer, "dev")
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    apply_env(deployer, "dev")
    with pytest.raises(NoPreviousDeploymentError):
        rollback_env(deployer, "dev")
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=2, port=9001))
    apply_env(deployer, "dev")
    result = rollback_env(deployer, "dev")
    assert result.outcome == "rolled_back_to_previous"
    assert result.after.model_ref == "driver_ranking:1"
    (status,) = status_all(deployer)
    assert not status.in_sync
    assert status.serving_ref == "driver_ranking:1"
    assert any("revert the manifest in git" in line for line in status.drift)
    assert any("model version: the target has driver_ranking:1" in line for line in status.drift)


def test_teardown_with_model_null(setup: Any) -> None:
    deployer, target, _ = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    apply_env(deployer, "dev")
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=None, port=9001))
    assert deployer.plan("dev").action == "destroy"
    assert apply_env(deployer, "dev").outcome == "torn_down"
    assert key("dev") not in target.serving
    assert apply_env(deployer, "dev").outcome == "noop"


def test_status_reports_each_environment_and_errors_separately(setup: Any) -> None:
    deployer, _, registry = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    write_manifest(manifests(deployer), "staging", "environment: [broken\n")
    write_manifest(manifests(deployer), "prod", local_manifest("prod", version=None, port=9003))
    apply_env(deployer, "dev")
    registry.set_status(model_name="driver_ranking", version=1, status=ApprovalStatus.REJECTED)
    dev, staging, prod = status_all(deployer)
    assert (dev.environment, staging.environment, prod.environment) == ("dev", "staging", "prod")
    assert dev.env == "dev/driver_ranking"
    assert "Rejected in the registry" in dev.drift[0]
    assert not dev.in_sync
    assert staging.error is not None
    assert "staging/driver_ranking.yaml:2" in staging.error
    assert prod.in_sync
    assert prod.serving_ref is None


def test_second_concurrent_apply_is_refused_quickly(setup: Any) -> None:
    deployer, _, _ = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with env_lock(state_dir=deployer.state_dir, env=key("dev"), operation="apply"):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        with pytest.raises(LockedError, match=r"another apply \(pid \d+, since"):
            apply_env(deployer, "dev")
        with pytest.raises(LockedError):
            rollback_env(deployer, "dev")
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        thread.join()
    assert apply_env(deployer, "dev").outcome == "deployed"


def _registry_down_for(registry: FakeRegistry, version: int) -> None:
    """Make reading ``version`` fail the way an unreachable registry does."""
    real_get = registry.get

    def get(*, model_name: str, version_: int | None = None, **kwargs: Any) -> Any:
        number = kwargs.get("version", version_)
        if number == version:
            raise RegistryError("sagemaker DescribeModelPackage failed: could not connect")
        return real_get(model_name=model_name, version=number)

    registry.get = get  # type: ignore[method-assign]


def test_unreachable_registry_for_the_serving_version_is_a_visible_warning(setup: Any) -> None:
    deployer, _, registry = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    apply_env(deployer, "dev")
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=2, port=9001))
    _registry_down_for(registry, 1)
    plan = deployer.plan("dev")
    (warning,) = plan.warnings
    assert "cannot read the serving version driver_ranking:1 from the local registry" in warning
    assert "could not connect" in warning
    assert plan.serving is None  # no baseline, and the plan says why
    assert f"Warning: {warning}" in plan.to_text()
    markdown = plan.to_markdown()
    assert "> [!WARNING]" in markdown
    assert "could not connect" in markdown
    assert plan.model_dump(mode="json")["warnings"] == [warning]
    (status,) = status_all(deployer)
    assert any("could not connect" in line for line in status.warnings)
    assert any("approval status is not checked" in line for line in status.warnings)
    assert "! warning: cannot read the serving version" in status_text([status])
    assert apply_env(deployer, "dev").warnings == [warning]


def test_a_serving_version_missing_from_the_registry_is_a_warning(setup: Any) -> None:
    deployer, _, registry = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    apply_env(deployer, "dev")
    del registry.versions[("driver_ranking", 1)]
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=2, port=9001))
    assert deployer.plan("dev").warnings == [
        "the serving version driver_ranking:1 is not in the local registry"
    ]
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=None, port=9001))
    assert deployer.plan("dev").warnings == [
        "the serving version driver_ranking:1 is not in the local registry"
    ]


def test_corrupt_history_lines_warn_in_status_and_rollback(setup: Any) -> None:
    deployer, _, _ = setup
    for version in (1, 2):
        write_manifest(
            manifests(deployer), "dev", local_manifest("dev", version=version, port=9001)
        )
        apply_env(deployer, "dev")
    with (deployer.state_dir / "dev" / MODEL / "history.jsonl").open("a") as handle:
        handle.write("{torn line\n")
    (status,) = status_all(deployer)
    assert any("skipped 1 unreadable line(s) (3)" in line for line in status.warnings)
    result = rollback_env(deployer, "dev")
    assert result.after.model_ref == "driver_ranking:1"
    assert any("skipped 1 unreadable line(s)" in line for line in result.warnings)
    assert "Warning: " in result_text(result)


def test_an_unreadable_history_is_an_error_for_that_environment_only(setup: Any) -> None:
    deployer, _, _ = setup
    write_manifest(manifests(deployer), "dev", local_manifest("dev", version=1, port=9001))
    write_manifest(manifests(deployer), "prod", local_manifest("prod", version=None, port=9003))
    (deployer.state_dir / "dev" / MODEL / "history.jsonl").mkdir(parents=True)
    dev, prod = status_all(deployer)
    assert dev.error is not None
    assert "cannot read the deploy history" in dev.error
    assert prod.in_sync


def test_plan_from_texts_writes_nothing_and_names_the_repository_path(
    setup: Any, tmp_path: Path
) -> None:
    deployer, _, _ = setup
    texts = {
        "staging": local_manifest("staging", version=2, port=9002),
        "prod": local_manifest("prod", version=2, port=9003),
    }
    before = sorted(p for p in tmp_path.rglob("*") if "registry" not in p.parts)
    plan = deployer.plan_texts("prod", env_texts(texts), folder="deploy/envs")
    assert plan.manifest_path == "deploy/envs/prod/driver_ranking.yaml"
    assert plan.action == "create"
    promotion = next(p for p in plan.policies if p.policy == "promotion-order")
    assert promotion.failed  # the upstream (staging) text was read: it serves nothing yet
    assert "in staging, which serves nothing" in promotion.message
    alone = deployer.plan_texts(
        "prod/driver_ranking", env_texts({"prod": texts["prod"]}), folder="deploy/envs"
    )
    promotion = next(p for p in alone.policies if p.policy == "promotion-order")
    assert "staging has no manifest of 'driver_ranking' (has: none)" in promotion.message
    assert sorted(p for p in tmp_path.rglob("*") if "registry" not in p.parts) == before
    with pytest.raises(
        ManifestError, match=r"deploy/envs/prod/driver_ranking.yaml:2: environment: is 'qa'"
    ):
        deployer.plan_texts(
            "prod",
            env_texts({"prod": texts["prod"].replace("prod", "qa", 1)}),
            folder="deploy/envs",
        )
    with pytest.raises(ManifestError, match=r"dev has no manifest"):
        deployer.plan_texts("dev", env_texts(texts), folder="deploy/envs")


def test_ci_planner_plans_texts_without_temp_files(
    setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from ci.planning import deployer_planner

    _, _, registry = setup

    def no_temp(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the planner must not write temp files")

    for name in ("TemporaryDirectory", "mkdtemp", "mkstemp", "NamedTemporaryFile"):
        monkeypatch.setattr(tempfile, name, no_temp)
    planner = deployer_planner(
        manifests_dir="model_deploy/environments/",
        settings=DeploySettings(deploy_state_dir=tmp_path / "planner-state"),
        registries=lambda kind: registry,
    )
    plan = planner("dev", env_texts({"dev": local_manifest("dev", version=1, port=9001)}))
    assert plan.manifest_path == "model_deploy/environments/dev/driver_ranking.yaml"
    assert plan.action == "create"
    assert plan.candidate is not None
    assert plan.candidate.ref == "driver_ranking:1"
    with pytest.raises(
        ManifestError, match=r"^model_deploy/environments/dev/driver_ranking\.yaml:3: "
    ):
        planner("dev", env_texts({"dev": "environment: dev\nmodel: null\ntarget: {kind: nope}\n"}))
