"""Policies: pure functions, one sentence per verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from deploy_support import ENVIRONMENTS

from model_build.registry.protocol import ApprovalStatus, ModelVersion
from model_deploy.manifest.environments import EnvironmentRules, parse_environments
from model_deploy.manifest.model import Manifest
from model_deploy.policies import POLICIES, PolicyContext, UpstreamState, evaluate_policies
from model_deploy.policies.approval import check_approval
from model_deploy.policies.freeze import check_freeze_windows
from model_deploy.policies.metrics import check_metric_thresholds
from model_deploy.policies.promotion import check_promotion_order
from model_deploy.policies.schema import check_feature_schema

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FEATURES = ["conv_rate", "acc_rate"]


def manifest(env: str = "prod", **overrides: Any) -> Manifest:
    data: dict[str, Any] = {
        "environment": env,
        "model": {"name": "driver_ranking", "version": 4, "feature_service": "driver_ranking_v1"},
        "target": {"kind": "local", "port": 8603},
        "smoke_tests": [
            {"name": "row", "instances": [{"conv_rate": 0.5, "acc_rate": 0.5}]},
        ],
        "policy": {"thresholds": {"roc_auc": {"min": 0.75}, "log_loss": {"max": 0.6}}},
    }
    data.update(overrides)
    return Manifest.model_validate(data)


def version(**overrides: Any) -> ModelVersion:
    data: dict[str, Any] = {
        "model_name": "driver_ranking",
        "version": 4,
        "status": ApprovalStatus.APPROVED,
        "artifact_digest": "sha256:" + "a" * 64,
        "artifact_uri": "/registry/driver_ranking/4/bundle",
        "metrics": {"roc_auc": 0.81, "log_loss": 0.42},
        "feature_service": "driver_ranking_v1",
        "features": FEATURES,
        "created_at": NOW,
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
    }
    data.update(overrides)
    return ModelVersion.model_validate(data)


def ctx(
    env: str = "prod",
    *,
    candidate: ModelVersion | None = None,
    upstream: UpstreamState | None = None,
    now: datetime = NOW,
    kind: Any = "promotion",
    serving: ModelVersion | None = None,
    serving_ref: str | None = None,
    serving_error: str | None = None,
    **manifest_overrides: Any,
) -> PolicyContext:
    return PolicyContext(
        env=env,
        manifest=manifest(env, **manifest_overrides),
        candidate=candidate,
        upstream=upstream,
        now=now,
        kind=kind,
        serving=serving,
        serving_ref=serving_ref,
        serving_error=serving_error,
        rules=_rules(env),
    )


def _rules(env: str) -> EnvironmentRules:
    """The test environments' rules of ``env`` (none for an undeclared one)."""
    declared = parse_environments(text=ENVIRONMENTS, source="environments.yaml")
    return declared.rules(env) if env in declared.environments else EnvironmentRules()


HEALTHY_STAGING = UpstreamState(env="staging", model_ref="driver_ranking:4", healthy=True)


def sentence(message: str) -> None:
    assert message.endswith(".")
    assert "\n" not in message
    assert message[0].isalnum()


# -- approval --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "status", "outcome"),
    [
        ("dev", ApprovalStatus.PENDING, "pass"),
        ("dev", ApprovalStatus.APPROVED, "pass"),
        ("dev", ApprovalStatus.REJECTED, "fail"),
        ("staging", ApprovalStatus.PENDING, "fail"),
        ("staging", ApprovalStatus.APPROVED, "pass"),
        ("prod", ApprovalStatus.PENDING, "fail"),
        ("prod", ApprovalStatus.REJECTED, "fail"),
        ("prod", ApprovalStatus.APPROVED, "pass"),
    ],
)
def test_approval(env: str, status: ApprovalStatus, outcome: str) -> None:
    result = check_approval(ctx(env, candidate=version(status=status)))
    assert result.outcome == outcome
    sentence(result.message)
    if env != "dev" and status == ApprovalStatus.PENDING:
        assert result.message == (
            f"{env} only takes Approved versions, but driver_ranking:4 is Pending."
        )


def test_approval_names_the_rejection_reason() -> None:
    result = check_approval(
        ctx(candidate=version(status=ApprovalStatus.REJECTED, status_reason="leaky feature"))
    )
    assert result.message == "driver_ranking:4 is Rejected in the registry (leaky feature)."


# -- promotion order ---------------------------------------------------------------------------


def test_prod_needs_the_version_serving_healthy_in_staging() -> None:
    assert check_promotion_order(ctx(candidate=version(), upstream=HEALTHY_STAGING)).outcome == (
        "pass"
    )
    other = UpstreamState(env="staging", model_ref="driver_ranking:3", healthy=True)
    result = check_promotion_order(ctx(candidate=version(), upstream=other))
    assert result.outcome == "fail"
    assert result.message == (
        "prod only takes a version serving in staging, which serves driver_ranking:3, "
        "not driver_ranking:4."
    )
    sick = UpstreamState(env="staging", model_ref="driver_ranking:4", healthy=False)
    assert "not healthy" in check_promotion_order(ctx(candidate=version(), upstream=sick)).message
    down = UpstreamState(env="staging", model_ref=None, healthy=False, error="port closed")
    result = check_promotion_order(ctx(candidate=version(), upstream=down))
    assert result.outcome == "fail"
    assert "port closed" in result.message
    nothing = UpstreamState(env="staging", model_ref=None, healthy=False)
    assert (
        "serves nothing"
        in check_promotion_order(ctx(candidate=version(), upstream=nothing)).message
    )


def test_promotion_order_skips_environments_without_upstream() -> None:
    for env in ("dev", "staging"):
        result = check_promotion_order(ctx(env, candidate=version()))
        assert result.outcome == "skip"
        sentence(result.message)


# -- metric thresholds ---------------------------------------------------------------------------


def test_thresholds_pass_and_fail_with_numbers() -> None:
    assert check_metric_thresholds(ctx(candidate=version())).outcome == "pass"
    result = check_metric_thresholds(
        ctx(candidate=version(metrics={"roc_auc": 0.70, "log_loss": 0.65}))
    )
    assert result.outcome == "fail"
    assert result.message == (
        "driver_ranking:4 misses prod's bar: log_loss is 0.65, above the maximum 0.6; "
        "roc_auc is 0.7, below the minimum 0.75."
    )


def test_missing_metric_fails_and_no_thresholds_skips() -> None:
    result = check_metric_thresholds(ctx(candidate=version(metrics={"roc_auc": 0.9})))
    assert result.outcome == "fail"
    assert "log_loss is not in the registry record" in result.message
    result = check_metric_thresholds(ctx(candidate=version(), policy={"thresholds": {}}))
    assert result.outcome == "skip"


# -- freeze windows ---------------------------------------------------------------------------

WINDOWS = [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z", "reason": "audit"}]


def test_freeze_window_blocks_inside_and_passes_outside() -> None:
    result = check_freeze_windows(ctx(candidate=version(), freeze_windows=WINDOWS))
    assert result.outcome == "fail"
    assert result.message == "prod is frozen until 2026-03-03T00:00:00+00:00 (audit)."
    later = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # the end is exclusive
    assert (
        check_freeze_windows(ctx(candidate=version(), freeze_windows=WINDOWS, now=later)).outcome
        == "pass"
    )
    earlier = datetime(2026, 2, 1, tzinfo=UTC)
    result = check_freeze_windows(ctx(candidate=version(), freeze_windows=WINDOWS, now=earlier))
    assert result.outcome == "pass"
    assert "next one starts 2026-03-01" in result.message
    assert check_freeze_windows(ctx(candidate=version())).outcome == "skip"


def test_freeze_window_applies_to_teardowns_too() -> None:
    result = check_freeze_windows(ctx(model=None, freeze_windows=WINDOWS))
    assert result.outcome == "fail"


# -- feature schema ---------------------------------------------------------------------------


def test_schema_checks_feature_service_and_smoke_rows() -> None:
    assert check_feature_schema(ctx(candidate=version())).outcome == "pass"
    result = check_feature_schema(ctx(candidate=version(feature_service="driver_activity_v1")))
    assert result.outcome == "fail"
    assert result.message == (
        "The manifest names feature service driver_ranking_v1, but driver_ranking:4 was "
        "trained on driver_activity_v1."
    )
    rows = [{"name": "row", "instances": [{"conv_rate": 0.5, "rating": 4.0}]}]
    result = check_feature_schema(ctx(candidate=version(), smoke_tests=rows))
    assert result.outcome == "fail"
    assert result.message == (
        "Smoke test 'row' row 0 does not match driver_ranking:4's features "
        "(missing: acc_rate; unexpected: rating)."
    )


# -- all together ------------------------------------------------------------------------------


def test_evaluate_policies_runs_every_policy_in_order_and_skips_without_model() -> None:
    results = evaluate_policies(ctx(candidate=version(), upstream=HEALTHY_STAGING))
    assert [r.policy for r in results] == [
        "approval",
        "lineage",
        "promotion-order",
        "promotion-path",
        "metric-thresholds",
        "regression",
        "feature-schema",
        "freeze-window",
    ]
    assert len(results) == len(POLICIES)
    assert [r.outcome for r in results] == [
        "pass", "pass", "pass", "skip", "pass", "skip", "pass", "skip",
    ]  # fmt: skip
    for result in results:
        sentence(result.message)
    empty = evaluate_policies(ctx(model=None))
    assert all(r.outcome == "skip" for r in empty)


# -- regression against the serving version ---------------------------------------------------


def test_regression_directions_come_from_the_metric_registry() -> None:
    from model_deploy.policies.regression import check_regression

    limits = {"max_regression": {"rmse": 0.5, "r2": 0.01, "residual_q05": 1.0}}
    serving = version(version=3, metrics={"rmse": 5.0, "r2": 0.90, "residual_q05": -2.0})
    worse = version(metrics={"rmse": 5.6, "r2": 0.88, "residual_q05": -1.0})
    result = check_regression(
        ctx(candidate=worse, serving=serving, serving_ref="driver_ranking:3", policy=limits)
    )
    assert result.outcome == "fail"
    sentence(result.message)
    assert "rmse is 5.6 against 5, 0.6 higher (worse)" in result.message  # lower is better
    assert "r2 is 0.88 against 0.9, 0.02 lower (worse)" in result.message  # higher is better
    assert "residual_q05 has no better direction" in result.message
    better = version(metrics={"rmse": 4.0, "r2": 0.95, "residual_q05": -2.0})
    ok = check_regression(
        ctx(candidate=better, serving=serving, serving_ref="driver_ranking:3",
            policy={"max_regression": {"rmse": 0.5, "r2": 0.01}})
    )  # fmt: skip
    assert ok.outcome == "pass"


def test_regression_needs_the_serving_record_and_skips_non_promotions() -> None:
    from model_deploy.policies.regression import check_regression

    limits = {"max_regression": {"roc_auc": 0.01}}
    nothing = check_regression(ctx(candidate=version(), policy=limits))
    assert (nothing.outcome, "no baseline" in nothing.message) == ("pass", True)
    unknown = check_regression(
        ctx(candidate=version(), serving_ref="driver_ranking:3", serving_error="registry down",
            policy=limits)
    )  # fmt: skip
    assert unknown.outcome == "fail"
    assert "registry down" in unknown.message
    config = check_regression(
        ctx(candidate=version(), kind="config", serving_ref="driver_ranking:4", policy=limits)
    )
    assert config.outcome == "skip"
    assert check_regression(ctx(candidate=version())).outcome == "skip"  # no limits


# -- lineage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "sha", "outcome"),
    [
        ("prod", "unknown", "fail"),
        ("staging", "", "fail"),
        ("prod", "a" * 40 + "-dirty", "fail"),
        ("dev", "unknown", "pass"),
        ("prod", "a" * 40, "pass"),
    ],
)
def test_lineage_refuses_unknown_or_dirty_builds_where_approval_is_required(
    env: str, sha: str, outcome: str
) -> None:
    from model_deploy.policies.lineage import check_lineage

    result = check_lineage(ctx(env, candidate=version(git_sha=sha)))
    assert result.outcome == outcome
    sentence(result.message)
    if outcome == "fail":
        assert "only takes versions built from a clean commit" in result.message
    rollback = check_lineage(ctx(env, candidate=version(git_sha=sha), kind="rollback"))
    assert rollback.outcome == "skip"
