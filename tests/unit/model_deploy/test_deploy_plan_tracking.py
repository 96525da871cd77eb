"""The plan links the candidate's MLflow run and shows its bias metrics against the build gate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from model_build.registry.protocol import ApprovalStatus, BiasRecord, ModelVersion, TrackingLink
from model_deploy.manifest import parse_manifest
from model_deploy.plan import Plan, build_plan
from model_deploy.targets.protocol import ActualState

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RUN = "0123456789abcdef0123456789abcdef"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/slipway"
MANIFEST = """\
environment: dev
model:
  name: driver_ranking
  version: 4
  feature_service: driver_ranking_v1
target:
  kind: local
  port: 8601
"""
LINK = TrackingLink(
    tracking_uri="sqlite:////work/.slipway/tracking/mlflow.db",
    experiment_id="1",
    run_id=RUN,
    model_uri="models:/m-abc",
    run_url=f"http://127.0.0.1:5000/#/experiments/1/runs/{RUN}",
)
BIAS = BiasRecord(
    attribute="segment",
    facet=["b"],
    metrics={
        "class_imbalance": 0.2,
        "disparate_impact": 0.7,
        "equal_opportunity_difference": None,
    },
    limits={
        "disparate_impact": {"min": 0.8, "max": 1.25},
        "equal_opportunity_difference": {"min": -0.1, "max": None},
    },
    passed=False,
)


def version(number: int, **fields: Any) -> ModelVersion:
    return ModelVersion(
        model_name="driver_ranking", version=number, status=ApprovalStatus.APPROVED,
        artifact_digest=f"sha256:{number:064d}", artifact_uri=f"/registry/{number}",
        metrics={"roc_auc": 0.8}, git_sha=f"{number:040d}", data_hash=f"data{number}",
        feature_service="driver_ranking_v1", features=["conv_rate"], created_at=NOW, **fields,
    )  # fmt: skip


def plan(candidate: ModelVersion, serving: ModelVersion | None = None) -> Plan:
    return build_plan(
        loaded=parse_manifest(text=MANIFEST, source="dev.yaml"),
        actual=ActualState(env="dev", target="local", deployed=False),
        candidate=candidate,
        serving=serving,
        policies=[],
        now=NOW,
    )


# --- failure paths -----------------------------------------------------------------------------


def test_an_untracked_candidate_shows_no_run_and_no_bias_section() -> None:
    text = plan(version(4)).to_markdown()
    assert "#### Bias" not in text
    assert "| MLflow run | – |" in text
    assert "MLflow run:" not in plan(version(4)).to_text()


def test_a_missed_bias_bound_and_an_uncomputable_metric_are_marked_failed() -> None:
    text = plan(version(4, bias=BIAS)).to_markdown()
    assert "#### Bias: `segment` in `b` (SageMaker Clarify's definitions)" in text
    assert "Candidate `driver_ranking:4` at build time: ❌ missed a bound." in text
    assert "| `disparate_impact` | 0.7000 | ≥ 0.8 and ≤ 1.25 ❌ |" in text
    assert "| `equal_opportunity_difference` | cannot be computed | ≥ -0.1 ❌ |" in text
    assert "| `class_imbalance` | 0.2000 | – |" in text
    assert "Bias (segment): BOUND MISSED" in plan(version(4, bias=BIAS)).to_text()


# --- the run and the bias metrics --------------------------------------------------------------


def test_the_evidence_and_the_text_plan_name_the_candidates_run() -> None:
    candidate = version(4, tracking=LINK)
    rendered = plan(candidate)
    assert rendered.candidate is not None
    assert rendered.candidate.tracking == LINK
    text = rendered.to_markdown()
    assert f"| MLflow run | `{RUN}` |" in text
    assert "| Logged model | `models:/m-abc` |" in text
    assert f"MLflow run: {RUN} ({LINK.run_url})" in rendered.to_text()
    remote = candidate.model_copy(update={"tracking": LINK.model_copy(update={"run_url": ""})})
    assert f"MLflow run: {RUN} ({LINK.tracking_uri})" in plan(remote).to_text()
    assert plan(candidate).model_dump(mode="json")["candidate"]["tracking"]["run_id"] == RUN


def test_bias_within_bounds_is_shown_next_to_the_serving_versions() -> None:
    good = BIAS.model_copy(
        update={
            "metrics": {"disparate_impact": 0.9, "equal_opportunity_difference": 0.02},
            "passed": True,
        }
    )
    old = BIAS.model_copy(update={"metrics": {"disparate_impact": 0.85}})
    text = plan(version(4, bias=good), serving=version(3, bias=old)).to_markdown()
    assert "at build time: ✅ met every bound." in text
    assert "| Metric | Serving `driver_ranking:3` | Candidate `driver_ranking:4` |" in text
    assert "| `disparate_impact` | 0.8500 | 0.9000 | ≥ 0.8 and ≤ 1.25 ✅ |" in text
    assert "| `equal_opportunity_difference` | – | 0.0200 | ≥ -0.1 ✅ |" in text
    other = old.model_copy(update={"attribute": "region"})
    text = plan(version(4, bias=good), serving=version(3, bias=other)).to_markdown()
    assert "Serving `driver_ranking:3` |" not in text.split("#### Bias", 1)[1]
    unbounded = good.model_copy(update={"limits": {}, "passed": None})
    assert "at build time: no bounds declared." in plan(version(4, bias=unbounded)).to_markdown()
