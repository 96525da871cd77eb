"""Deployment policies: pure functions of a :class:`PolicyContext`, one module per rule."""

from __future__ import annotations

from collections.abc import Callable

from model_deploy.policies.approval import check_approval
from model_deploy.policies.freeze import check_freeze_windows
from model_deploy.policies.lineage import check_lineage
from model_deploy.policies.metrics import check_metric_thresholds
from model_deploy.policies.promotion import check_promotion_order
from model_deploy.policies.promotion_path import check_promotion_path
from model_deploy.policies.regression import check_regression
from model_deploy.policies.result import (
    PolicyContext,
    PolicyResult,
    PromotionEvidence,
    UpstreamState,
)
from model_deploy.policies.schema import check_feature_schema

Policy = Callable[[PolicyContext], PolicyResult]

#: Every policy, in the order reports list them.
POLICIES: tuple[Policy, ...] = (
    check_approval,
    check_lineage,
    check_promotion_order,
    check_promotion_path,
    check_metric_thresholds,
    check_regression,
    check_feature_schema,
    check_freeze_windows,
)


def evaluate_policies(ctx: PolicyContext) -> list[PolicyResult]:
    """Run every policy."""
    return [policy(ctx) for policy in POLICIES]


__all__ = [
    "POLICIES",
    "PolicyContext",
    "PolicyResult",
    "PromotionEvidence",
    "UpstreamState",
    "evaluate_policies",
]
