"""The plan comment's provenance names the MLflow run that built the candidate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ci.plan_render import change_section, with_change_section
from model_build.registry.protocol import ApprovalStatus, BiasRecord, ModelVersion, TrackingLink
from model_deploy.manifest import parse_manifest
from model_deploy.plan import Plan, build_plan
from model_deploy.render.markdown import plan_markdown
from model_deploy.targets.protocol import ActualState

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RUN = "0123456789abcdef0123456789abcdef"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/slipway"
URL = f"http://127.0.0.1:5000/#/experiments/1/runs/{RUN}"
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


def _plan(**fields: Any) -> Plan:
    fields = {"git_sha": "a" * 40, **fields}
    candidate = ModelVersion(
        model_name="driver_ranking", version=4, status=ApprovalStatus.APPROVED,
        artifact_digest="sha256:" + "4" * 64, artifact_uri="/registry/4", metrics={},
        feature_service="driver_ranking_v1", features=["conv_rate"], created_at=NOW, **fields,
    )  # fmt: skip
    return build_plan(
        loaded=parse_manifest(text=MANIFEST, source="dev.yaml"),
        actual=ActualState(env="dev", target="local", deployed=False),
        candidate=candidate, serving=None, policies=[], now=NOW,
    )  # fmt: skip


def _provenance(plan: Plan) -> str:
    return "\n".join(change_section(plan))


def test_an_untracked_build_is_called_out() -> None:
    text = _provenance(_plan())
    assert "- **Build run:** `driver_ranking:4` was built without experiment tracking" in text
    outside = _provenance(_plan(git_sha="unknown"))
    assert "built outside git" in outside
    assert "was built without experiment tracking" in outside


def test_a_store_without_a_ui_names_the_run_and_the_store_without_a_link() -> None:
    link = TrackingLink(tracking_uri=ARN, experiment_id="7", run_id=RUN)
    text = _provenance(_plan(tracking=link))
    assert f"- **Build run:** MLflow run `{RUN}` in `{ARN}` (parameters, metrics, SHAP plots)" in (
        text
    )
    assert "](" not in text
    assert "logged model" not in text


def test_the_comment_links_the_candidates_run_its_model_and_bias_report() -> None:
    link = TrackingLink(
        tracking_uri="sqlite:////x/mlflow.db", experiment_id="1", run_id=RUN,
        model_uri="models:/m-abc", run_url=URL,
    )  # fmt: skip
    bias = BiasRecord(attribute="segment", facet=["b"], metrics={"disparate_impact": 0.9})
    plan = _plan(tracking=link, bias=bias)
    text = _provenance(plan)
    assert (
        f"- **Build run:** [MLflow run `{RUN}`]({URL}) (parameters, metrics, SHAP plots, "
        "bias report); logged model `models:/m-abc`"
    ) in text
    comment = "\n".join(with_change_section(plan_markdown(plan), change_section(plan)))
    assert comment.index("#### Provenance") < comment.index("#### Bias")
    assert comment.count(URL) == 1
