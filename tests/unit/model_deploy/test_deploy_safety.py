"""Deploy safety under failure (issue 11), one test per fault, on an in-memory target.

Each ``test_fault_NN_*`` names the fault of issue 11's "Why" it covers. The process-level
faults (a killed apply, an edited ``target.json``, bakes) are in
``tests/integration/test_deploy_faults.py``.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    FakeRegistry,
    env_texts,
    key,
    local_manifest,
    make_deployer,
    register_version,
    write_manifest,
)
from fake_target import FakeTarget
from typer.testing import CliRunner

from model_deploy.apply import run_apply
from model_deploy.errors import NoPreviousDeploymentError
from model_deploy.rollback import rollback_manifest, run_rollback
from model_deploy.service import Deployer
from model_deploy.state import env_lock
from model_deploy.status import status_all
from model_deploy.store.records import DeployIntent, LockOwner
from slipway.cli.deploy import deploy_app

FROZEN = """\
freeze_windows:
  - {start: "2026-03-01T00:00:00Z", end: "2026-03-09T00:00:00Z", reason: release week}
"""
STRICT = "probability: {min: 0.99, max: 1.0}"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Deployer, FakeTarget, FakeRegistry]:
    registry = FakeRegistry(tmp_path / "registry")
    register_version(registry, tmp_path, seed=1)
    register_version(registry, tmp_path, seed=2, metrics={"roc_auc": 0.85, "log_loss": 0.4})
    register_version(registry, tmp_path, seed=3, metrics={"roc_auc": 0.86, "log_loss": 0.39})
    register_version(registry, tmp_path, seed=4, metrics={"roc_auc": 0.78, "log_loss": 0.5})
    target = FakeTarget()
    return make_deployer(tmp_path, registry, targets={"local": target}), target, registry


def put(deployer: Deployer, env: str, text: str) -> None:
    write_manifest(Path(deployer.settings.deploy_manifests_dir), env, text)


def history(deployer: Deployer, env: str) -> list[Any]:
    return deployer.store.read_history(deployer.resolve(env)).records


# -- fault 1: healthy versions got Rejected because every non-zero exit was a "failure" ----------


def test_fault_01_a_refusal_and_a_lock_are_outcomes_that_reject_nothing(setup: Any) -> None:
    deployer, target, _ = setup
    put(deployer, "dev", local_manifest("dev", version=1, port=9001, extra=FROZEN))
    refused = run_apply(deployer, "dev")
    assert (refused.outcome, refused.exit_code, refused.cause, refused.rejects) == (
        "refused",
        3,
        None,
        None,
    )
    assert "frozen until 2026-03-09" in refused.reasons[0]
    assert target.deploys == 0
    assert history(deployer, "dev") == []
    put(deployer, "dev", local_manifest("dev", version=1, port=9001))
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with env_lock(state_dir=deployer.state_dir, env=key("dev"), operation="apply"):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(5)
        locked = run_apply(deployer, "dev")
        rollback = run_rollback(deployer, "dev")
    finally:
        release.set()
        thread.join()
    assert (locked.outcome, locked.exit_code, locked.rejects) == ("locked", 4, None)
    assert "another apply (pid" in locked.message
    assert rollback.outcome == "locked"
    applied = run_apply(deployer, "dev")
    assert (applied.outcome, applied.exit_code, applied.now_serving) == (
        "applied",
        0,
        "driver_ranking:1",
    )
    assert run_apply(deployer, "dev").outcome == "no-op"


def test_fault_01_failures_carry_their_cause_and_only_the_model_rejects(setup: Any) -> None:
    deployer, target, _ = setup
    put(deployer, "dev", local_manifest("dev", version=1, port=9001))
    run_apply(deployer, "dev")
    target.serving_probability = {1: 0.9, 2: 0.2}  # v2 answers below the smoke tests' range
    put(
        deployer,
        "dev",
        local_manifest("dev", version=2, port=9001, expect="probability: {min: 0.5, max: 1.0}"),
    )
    model = run_apply(deployer, "dev")
    assert (model.outcome, model.exit_code, model.cause) == ("rolled-back", 5, "model")
    assert model.rejects == "driver_ranking:2"
    assert (model.desired, model.previously_serving, model.now_serving) == (
        "driver_ranking:2",
        "driver_ranking:1",
        "driver_ranking:1",
    )
    assert "pass against the serving driver_ranking:1" in model.reasons[1]
    assert [r.passed for r in model.baseline_smoke_tests] == [True, True]
    target.fail_deploy = True
    infra = run_apply(deployer, "dev")
    assert (infra.outcome, infra.cause, infra.rejects) == ("rolled-back", "infrastructure", None)
    target.fail_rollback = True
    lost = run_apply(deployer, "dev")
    assert (lost.outcome, lost.exit_code, lost.cause) == ("rollback-failed", 6, "infrastructure")
    assert "the rollback failed too" in lost.reasons[0]
    assert [(r.outcome, r.cause) for r in history(deployer, "dev")] == [
        ("succeeded", None),
        ("rolled_back", "model"),
        ("rolled_back", "infrastructure"),
        ("failed", "infrastructure"),
    ]


def test_fault_01_the_cli_exits_with_the_outcome_code_and_prints_it_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_DEPLOY_MANIFESTS_DIR", str(tmp_path / "manifests"))
    monkeypatch.setenv("SLIPWAY_DEPLOY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SLIPWAY_REGISTRY_PATH", str(tmp_path / "registry"))
    monkeypatch.delenv("SLIPWAY_REGISTRY", raising=False)
    write_manifest(tmp_path / "manifests", "dev", local_manifest("dev", version=1, port=9101))
    runner = CliRunner()
    refused = runner.invoke(deploy_app, ["apply", "dev", "--format", "json"])
    assert refused.exit_code == 3, refused.output  # version 1 is in no registry
    doc = json.loads(refused.output)
    assert (doc["outcome"], doc["cause"], doc["rejects"], doc["desired"]) == (
        "refused",
        None,
        None,
        "driver_ranking:1",
    )
    assert "driver_ranking:1" in doc["reasons"][0]
    with env_lock(state_dir=tmp_path / "state", env=key("dev"), operation="rollback"):
        locked = runner.invoke(deploy_app, ["apply", "dev", "-f", "json"])
    assert locked.exit_code == 4
    assert json.loads(locked.output)["outcome"] == "locked"
    text = runner.invoke(deploy_app, ["apply", "dev"])
    assert text.output.strip().splitlines()[-1] == "Outcome: refused (exit 3)."
    help_text = " ".join(runner.invoke(deploy_app, ["apply", "--help"]).output.split())
    assert "3 refused" in help_text
    assert "6 failed and the rollback failed too" in help_text


# -- fault 2: a config failure was blamed on the model ------------------------------------------


def test_fault_02_a_tightened_smoke_test_is_refused_as_config_before_anything_changes(
    setup: Any,
) -> None:
    deployer, target, _ = setup
    put(deployer, "dev", local_manifest("dev", version=1, port=9001))
    run_apply(deployer, "dev")
    put(deployer, "dev", local_manifest("dev", version=1, port=9001, expect=STRICT))
    plan = deployer.plan("dev")
    assert (plan.action, plan.change_kind) == ("update", "config")
    outcome = run_apply(deployer, "dev")
    assert (outcome.outcome, outcome.cause, outcome.rejects) == ("refused", "config", None)
    assert "fail against the serving driver_ranking:1" in outcome.reasons[0]
    assert target.deploys == 1  # nothing was touched
    assert [r.passed for r in outcome.baseline_smoke_tests] == [False, True]  # 2nd: no bounds


def test_fault_02_smoke_tests_failing_on_the_serving_version_too_blame_the_config(
    setup: Any,
) -> None:
    deployer, _, _ = setup
    put(deployer, "dev", local_manifest("dev", version=1, port=9001))
    run_apply(deployer, "dev")
    put(deployer, "dev", local_manifest("dev", version=2, port=9001, expect=STRICT))
    outcome = run_apply(deployer, "dev")
    assert (outcome.outcome, outcome.cause, outcome.rejects) == ("rolled-back", "config", None)
    assert "fail against the serving driver_ranking:1 too" in outcome.reasons[1]
    assert history(deployer, "dev")[-1].cause == "config"


# -- fault 3: a freeze was lifted by the pull request it should block --------------------------


def test_fault_03_policy_fields_come_from_the_base_and_changing_them_needs_owners(
    setup: Any,
) -> None:
    deployer, _, _ = setup
    base = local_manifest(
        "dev", version=1, port=9001, thresholds="roc_auc: {min: 0.9}", extra=FROZEN
    )
    head = local_manifest(
        "dev", version=1, port=9001, thresholds="roc_auc: {min: 0.5}", extra="freeze_windows: []\n"
    )
    alone = deployer.plan_texts("dev", env_texts({"dev": head}))
    assert not alone.blocked  # judged by its own fields, the pull request lifts everything
    plan = deployer.plan_texts(
        "dev", env_texts({"dev": head}), policy_texts=env_texts({"dev": base})
    )
    assert plan.blocked
    assert plan.policy_source == "separate"
    failed = {r.policy: r.message for r in plan.policies if r.failed}
    assert "frozen until 2026-03-09" in failed["freeze-window"]
    assert "below the minimum 0.9" in failed["metric-thresholds"]
    assert plan.policy_change
    changes = {c.key: (c.serving, c.desired) for c in plan.policy_changes}
    assert changes["policy.thresholds.roc_auc.min"] == ("0.9", "0.5")
    assert changes["freeze_windows"] == (None, "[]")
    assert changes["freeze_windows[0].reason"] == ('"release week"', None)
    (approval,) = plan.needs_owner_approval
    assert approval.startswith("policy change (policy.thresholds.roc_auc.min, freeze_windows)")
    markdown = plan.to_markdown()
    assert "Needs the owners' approval" in markdown
    assert "#### Policy fields that change" in markdown
    fresh = deployer.plan_texts("dev", env_texts({"dev": head}), policy_texts=env_texts({}))
    assert fresh.policy_change  # a new environment: all its policy is new
    broken = deployer.plan_texts(
        "dev", env_texts({"dev": head}), policy_texts=env_texts({"dev": "environment: ["})
    )
    assert broken.blocked
    assert any(r.policy == "policy-source" and r.failed for r in broken.policies)


# -- fault 4: config-only changes were blocked by promotion order and their own freeze ----------


def test_fault_04_a_config_change_skips_promotion_rules(setup: Any) -> None:
    deployer, _, _ = setup
    put(deployer, "staging", local_manifest("staging", version=2, port=9002))
    put(deployer, "prod", local_manifest("prod", version=2, port=9003))
    run_apply(deployer, "staging")
    assert run_apply(deployer, "prod").outcome == "applied"
    put(deployer, "staging", local_manifest("staging", version=3, port=9002))
    run_apply(deployer, "staging")  # staging moved on: prod's version no longer serves there
    text = local_manifest("prod", version=2, port=9003).replace(
        "sampling_percentage: 100", "sampling_percentage: 50"
    )
    put(deployer, "prod", text)
    plan = deployer.plan("prod")
    assert plan.change_kind == "config"
    assert not plan.blocked
    order = next(r for r in plan.policies if r.policy == "promotion-order")
    assert order.outcome == "skip"
    assert "config change (driver_ranking:2 keeps serving)" in order.message
    assert run_apply(deployer, "prod").outcome == "applied"


def test_fault_04_an_emergency_passes_a_freeze_and_is_recorded(setup: Any) -> None:
    deployer, _, _ = setup
    put(deployer, "dev", local_manifest("dev", version=1, port=9001))
    run_apply(deployer, "dev")
    put(
        deployer,
        "dev",
        local_manifest("dev", version=1, port=9001, extra=FROZEN).replace(
            "sampling_percentage: 100", "sampling_percentage: 0"
        ),
    )
    assert run_apply(deployer, "dev").outcome == "refused"
    reason = "INC-42: capture records PII"
    plan = deployer.plan("dev", emergency=reason)
    assert (plan.change_kind, plan.emergency, plan.blocked) == ("emergency", reason, False)
    freeze = next(r for r in plan.policies if r.policy == "freeze-window")
    assert freeze.outcome == "waived"
    assert any(reason in item for item in plan.needs_owner_approval)
    assert "[WAIVED] freeze-window" in plan.to_text()
    outcome = run_apply(deployer, "dev", emergency=reason)
    assert (outcome.outcome, outcome.change_kind, outcome.emergency) == (
        "applied",
        "emergency",
        reason,
    )
    last = history(deployer, "dev")[-1]
    assert (last.change_kind, last.emergency) == ("emergency", reason)


# -- fault 6 (second half): a deploy in progress was reported as drift --------------------------


def test_fault_06_a_deploy_in_progress_is_not_drift(setup: Any) -> None:
    deployer, _, _ = setup
    put(deployer, "dev", local_manifest("dev", version=1, port=9001))
    run_apply(deployer, "dev")
    put(deployer, "dev", local_manifest("dev", version=2, port=9001))
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with env_lock(state_dir=deployer.state_dir, env=key("dev"), operation="apply"):
            now = datetime.now(UTC)
            deployer.store.write_intent(
                key("dev"),
                DeployIntent(
                    id="run",
                    env=key("dev"),
                    action="apply",
                    owner=LockOwner.me("apply"),
                    started_at=now,
                    updated_at=now,
                    phase="traffic",
                    step=2,
                    steps=4,
                    percent=50,
                    desired_ref="driver_ranking:2",
                    manifest_hash="sha256:" + "0" * 64,
                    manifest={},
                ),
            )
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(5)
        (status,) = status_all(deployer)
    finally:
        release.set()
        thread.join()
    assert status.drift == []
    assert not status.in_sync
    assert status.in_progress is not None
    assert status.in_progress.startswith("apply of driver_ranking:2, step 2/4 (50% on it) by apply")
    assert status.serving_ref == "driver_ranking:1"


# -- fault 8: rollback flipped between the last two versions -------------------------------------


def test_fault_08_rollback_walks_history_and_goes_to_a_named_version(setup: Any) -> None:
    deployer, _, _ = setup
    for version in (1, 2, 3):
        put(deployer, "dev", local_manifest("dev", version=version, port=9001))
        assert run_apply(deployer, "dev").outcome == "applied"
    first = run_rollback(deployer, "dev")
    assert (first.outcome, first.previously_serving, first.now_serving) == (
        "applied",
        "driver_ranking:3",
        "driver_ranking:2",
    )
    second = run_rollback(deployer, "dev")
    assert second.now_serving == "driver_ranking:1"  # further back, not back to 3
    with pytest.raises(NoPreviousDeploymentError, match="no earlier successful deployment"):
        run_rollback(deployer, "dev")
    assert run_rollback(deployer, "dev", to_version=3).now_serving == "driver_ranking:3"
    with pytest.raises(NoPreviousDeploymentError, match="no successful deployment of version 9"):
        run_rollback(deployer, "dev", to_version=9)
    (status,) = status_all(deployer)
    assert any("revert the manifest in git" in line for line in status.drift) is False  # 3 = git


def test_fault_08_the_manifest_text_that_rolls_back_for_a_revert_pull_request(
    setup: Any,
) -> None:
    deployer, _, _ = setup
    for version in (1, 2):
        put(deployer, "dev", local_manifest("dev", version=version, port=9001))
        run_apply(deployer, "dev")
    current = "# keep this comment\n" + local_manifest("dev", version=2, port=9001, extra=FROZEN)
    proposal = rollback_manifest(deployer, "dev", current_text=current)
    assert proposal.model_ref == "driver_ranking:1"
    assert proposal.changed == ["model.version"]
    assert proposal.text.startswith("# keep this comment\n")
    assert "version: 1" in proposal.text
    assert "release week" in proposal.text  # policy fields stay as they are now
    named = rollback_manifest(deployer, "dev", current_text=current, to_version=2)
    assert named.changed == []
    before = sorted(p.name for p in deployer.state_dir.rglob("*"))
    assert sorted(p.name for p in deployer.state_dir.rglob("*")) == before  # nothing written


# -- fault 10 (second half): in-place plans listed only "manifest hash" --------------------------


def test_fault_10_an_in_place_plan_lists_every_manifest_field_that_changes(setup: Any) -> None:
    deployer, _, _ = setup
    put(deployer, "dev", local_manifest("dev", version=1, port=9001))
    run_apply(deployer, "dev")
    text = local_manifest(
        "dev",
        version=1,
        port=9001,
        strategy="{type: canary, percent: 10, bake_minutes: 1}",
        expect="probability: {min: 0.1, max: 1.0}",
        extra=FROZEN,
    )
    put(deployer, "dev", text)
    plan = deployer.plan("dev")
    fields = {c.key: (c.serving, c.desired) for c in plan.manifest_changes}
    assert fields["smoke_tests[0].expect.probability.min"] == ("0.0", "0.1")
    assert fields["strategy.type"] == ('"all_at_once"', '"canary"')
    assert fields["strategy.percent"] == (None, "10")
    assert fields["freeze_windows[0].reason"] == (None, '"release week"')
    assert "smoke_tests" in plan.summary
    assert "strategy" in plan.summary
    assert "manifest hash" not in plan.summary
    assert "smoke_tests[0].expect.probability.min  0.0  ->  0.1" in plan.to_text()
    assert "| `smoke_tests[0].expect.probability.min` |" in plan.to_markdown()


# -- fault 12: no regression policy, no promotion path ------------------------------------------


def test_fault_12_a_worse_candidate_is_not_ready_to_apply(setup: Any) -> None:
    deployer, _, _ = setup
    extra = "  max_regression: {roc_auc: 0.02, log_loss: 0.05}\n"
    put(deployer, "dev", local_manifest("dev", version=2, port=9001) + extra)
    run_apply(deployer, "dev")
    put(deployer, "dev", local_manifest("dev", version=4, port=9001) + extra)
    plan = deployer.plan("dev")
    assert plan.blocked
    regression = next(r for r in plan.policies if r.policy == "regression")
    assert regression.failed
    assert "roc_auc is 0.78 against 0.85, 0.07 lower (worse)" in regression.message
    assert "log_loss is 0.5 against 0.4, 0.1 higher (worse)" in regression.message
    assert "ready to apply" not in plan.to_markdown()
    assert run_apply(deployer, "dev").outcome == "refused"
    put(deployer, "dev", local_manifest("dev", version=3, port=9001) + extra)
    assert next(r for r in deployer.plan("dev").policies if r.policy == "regression").outcome == (
        "pass"
    )


def test_fault_12_staging_takes_only_versions_deployed_healthily_in_dev(setup: Any) -> None:
    deployer, target, _ = setup
    path = "promotion: {from: dev}\n"
    put(deployer, "staging", local_manifest("staging", version=2, port=9002, extra=path))
    plan = deployer.plan("staging")
    result = next(r for r in plan.policies if r.policy == "promotion-path")
    assert result.failed
    assert "dev's deploy history has no successful deploy of driver_ranking:2" in result.message
    put(deployer, "dev", local_manifest("dev", version=2, port=9001))
    target.fail_deploy = True
    assert run_apply(deployer, "dev").outcome == "rolled-back"  # a failed deploy is no proof
    assert deployer.plan("staging").blocked
    target.fail_deploy = False
    run_apply(deployer, "dev")
    result = next(r for r in deployer.plan("staging").policies if r.policy == "promotion-path")
    assert result.outcome == "pass"
    assert run_apply(deployer, "staging").outcome == "applied"
