"""Plan computation and its renderings (text, markdown for the PR, JSON), without processes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_build.registry.protocol import ApprovalStatus, ModelVersion
from model_deploy.manifest import parse_manifest
from model_deploy.plan import build_plan, compute_changes
from model_deploy.policies import PolicyResult
from model_deploy.targets.protocol import ActualState
from model_deploy.targets.traffic import TrafficStep, traffic_steps

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

SAGEMAKER_MANIFEST = """\
environment: prod
model:
  registry: sagemaker
  name: driver_ranking
  version: 4
  feature_service: driver_ranking_v1
target:
  kind: sagemaker
  endpoint_name: slipway-prod
  instance_type: ml.m5.xlarge
  instance_count: 2
  autoscaling: {min_capacity: 2, max_capacity: 6}
  execution_role_arn: arn:aws:iam::123456789012:role/sm
data_capture: {sampling_percentage: 20, destination: s3://bucket/capture}
strategy: {type: canary, percent: 10, bake_minutes: 5}
policy:
  thresholds:
    roc_auc: {min: 0.75}
"""


def version(number: int, **metrics: float) -> ModelVersion:
    return ModelVersion(
        model_name="driver_ranking",
        version=number,
        status=ApprovalStatus.APPROVED,
        artifact_digest=f"sha256:{number:064d}",
        artifact_uri=f"s3://bucket/models/{number}/model.tar.gz",
        metrics=metrics,
        git_sha=f"{number:040d}",
        data_hash=f"data{number}",
        feature_service="driver_ranking_v1",
        features=["conv_rate"],
        created_at=NOW,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/driver-ranking/{number}",
    )


def actual(**overrides: Any) -> ActualState:
    data: dict[str, Any] = {
        "env": "prod",
        "target": "sagemaker",
        "deployed": True,
        "healthy": True,
        "model_name": "driver_ranking",
        "version": 3,
        "manifest_hash": "sha256:" + "b" * 64,
        "endpoint": "slipway-prod",
        "settings": {"instance_type": "ml.m5.large", "instance_count": "1", "autoscaling": "-"},
        "data_capture_percentage": 20,
        "strategy": "canary 10% / bake 5 min",
        "git_sha": "feedbeef",
    }
    data.update(overrides)
    return ActualState(**data)


POLICIES = [
    PolicyResult("approval", "pass", "driver_ranking:4 is Approved in the registry."),
    PolicyResult("promotion-order", "fail", "prod only takes a version serving in staging."),
    PolicyResult("freeze-window", "skip", "The prod manifest has no freeze windows."),
]


def plan_for(current: ActualState, policies: list[PolicyResult] | None = None) -> Any:
    loaded = parse_manifest(text=SAGEMAKER_MANIFEST, source="prod.yaml")
    return build_plan(
        loaded=loaded,
        actual=current,
        candidate=version(4, roc_auc=0.83, log_loss=0.40),
        serving=version(3, roc_auc=0.80, log_loss=0.45),
        policies=policies if policies is not None else POLICIES,
        now=NOW,
    )


def test_plan_lists_every_changed_setting() -> None:
    plan = plan_for(actual())
    keys = [change.key for change in plan.changes]
    assert keys == ["model_version", "instance_type", "instance_count", "autoscaling",
                    "manifest_hash"]  # fmt: skip
    assert plan.action == "update"
    assert plan.blocked
    assert not plan.in_sync
    assert plan.summary == (
        "prod: driver_ranking:3 -> driver_ranking:4, 5 setting(s) change - BLOCKED by policy."
    )
    by_key = {change.key: change for change in plan.changes}
    assert (by_key["instance_count"].serving, by_key["instance_count"].desired) == ("1", "2")
    assert (by_key["autoscaling"].serving, by_key["autoscaling"].desired) == ("-", "2-6")


def test_plan_actions() -> None:
    assert plan_for(actual(deployed=False, model_name=None, version=None)).action == "create"
    loaded = parse_manifest(text=SAGEMAKER_MANIFEST, source="prod.yaml")
    synced = actual(
        version=4, manifest_hash=loaded.content_hash,
        settings={"instance_type": "ml.m5.xlarge", "instance_count": "2", "autoscaling": "2-6"},
    )  # fmt: skip
    plan = plan_for(synced)
    assert plan.action == "noop"
    assert plan.in_sync
    assert not plan.blocked  # policies moot
    assert compute_changes(loaded, synced.model_copy(update={"healthy": False}))[0].key == "health"
    empty = parse_manifest(
        text=SAGEMAKER_MANIFEST.replace(
            "model:\n  registry: sagemaker\n  name: driver_ranking\n  version: 4\n"
            "  feature_service: driver_ranking_v1\n",
            "model: null\n",
        ),
        source="prod.yaml",
    )
    destroy = build_plan(
        loaded=empty, actual=actual(), candidate=None, serving=None, policies=[], now=NOW
    )
    assert destroy.action == "destroy"
    assert destroy.desired_ref is None


def test_metric_rows_have_deltas_directions_and_thresholds() -> None:
    rows = {row.name: row for row in plan_for(actual()).metrics}
    auc, loss = rows["roc_auc"], rows["log_loss"]
    assert round(auc.delta or 0, 4) == 0.03
    assert auc.verdict == "better"
    assert auc.minimum == 0.75
    assert auc.meets_threshold is True
    assert loss.lower_is_better
    assert loss.verdict == "better"
    assert loss.meets_threshold is None


def test_markdown_is_a_reviewable_pr_comment() -> None:
    text = plan_for(actual()).to_markdown()
    assert text.startswith("<!-- slipway:plan env=prod -->\n### 🚢 Deploy plan · `prod`: ")
    assert "`driver_ranking:3` → `driver_ranking:4`" in text
    assert "**Blocked:** 1 policy check(s) failed" in text
    assert "| Instance count | `1` | **`2`** |" in text
    assert (
        "| `roc_auc` <sub>↑ higher is better</sub> | 0.8000 | 0.8300 | 🟢 ▲ +0.0300 | ≥ 0.75 ✅ |"
        in text
    )
    assert (
        "| `log_loss` <sub>↓ lower is better</sub> | 0.4500 | 0.4000 | 🟢 ▼ -0.0500 | – |" in text
    )
    assert "- [x] ✅ **approval**: driver_ranking:4 is Approved in the registry." in text
    assert "- [ ] ❌ **promotion-order**" in text
    assert "<details><summary>Evidence</summary>" in text
    for evidence in (
        "sha256:" + "4".zfill(64),
        "0" * 39 + "4",
        "data4",
        "model-package/driver-ranking/4",
    ):
        assert evidence in text
    assert text.endswith("</details>\n")


def test_markdown_in_sync_and_text_and_json() -> None:
    loaded = parse_manifest(text=SAGEMAKER_MANIFEST, source="prod.yaml")
    synced = actual(
        version=4, manifest_hash=loaded.content_hash,
        settings={"instance_type": "ml.m5.xlarge", "instance_count": "2", "autoscaling": "2-6"},
    )  # fmt: skip
    markdown = plan_for(synced, []).to_markdown()
    assert "✔️ **in sync**" in markdown
    assert "#### Changes" not in markdown
    text = plan_for(actual()).to_text()
    assert "Instance count  1  ->  2" in text.replace("   ", "  ")
    assert "[FAIL] promotion-order" in text
    assert "BLOCKED" in text
    data = json.loads(json.dumps(plan_for(actual()).model_dump(mode="json")))
    assert data["action"] == "update"
    assert data["blocked"] is True
    assert data["in_sync"] is False
    assert data["candidate"]["artifact_digest"] == "sha256:" + "4".zfill(64)
    assert {p["outcome"] for p in data["policies"]} == {"pass", "fail", "skip"}


def test_markdown_escapes_table_breakers(tmp_path: Path) -> None:
    plan = plan_for(actual(notes=["a | b <script>"]))
    text = plan.to_markdown()
    assert "a \\| b &lt;script&gt;" in text


def test_traffic_steps() -> None:
    loaded = parse_manifest(text=SAGEMAKER_MANIFEST, source="prod.yaml").manifest
    assert traffic_steps(loaded.strategy, has_previous=True) == [
        TrafficStep(10, 300.0),
        TrafficStep(100, 0.0),
    ]
    assert traffic_steps(loaded.strategy, has_previous=False) == [TrafficStep(100, 0.0)]
    linear = parse_manifest(
        text=SAGEMAKER_MANIFEST.replace(
            "{type: canary, percent: 10, bake_minutes: 5}",
            "{type: linear, step_percent: 30, interval_minutes: 0.5}",
        ),
        source="prod.yaml",
    ).manifest
    assert [s.percent for s in traffic_steps(linear.strategy, has_previous=True)] == [
        30, 60, 90, 100,
    ]  # fmt: skip


def test_target_details_render_generically_and_renderers_know_no_sagemaker_names() -> None:
    plan = plan_for(actual(details={"endpoint_config": "cfg-1|x", "status": "InService"}))
    markdown = plan.to_markdown()
    assert "Target details: endpoint_config `cfg-1\\|x` · status `InService`" in markdown
    data = plan.model_dump(mode="json")["actual"]
    assert data["settings"]["instance_count"] == "1"
    assert data["details"] == {"endpoint_config": "cfg-1|x", "status": "InService"}
    assert not {"instance_type", "instance_count", "autoscaling_min"} & set(data)
    root = Path(__file__).resolve().parents[3] / "model_deploy"
    for module in ("plan.py", "status.py", "render/text.py", "render/markdown.py"):
        code = (root / module).read_text(encoding="utf-8")
        for name in ("instance_type", "autoscaling", "endpoint_config", "variant_name"):
            assert f'"{name}"' not in code, (module, name)
            assert f".{name}" not in code, (module, name)


def test_a_target_that_reports_no_setting_shows_it_as_a_change() -> None:
    loaded = parse_manifest(text=SAGEMAKER_MANIFEST, source="prod.yaml")
    silent = actual(version=4, manifest_hash=loaded.content_hash, settings={})
    changes = {c.key: (c.serving, c.desired) for c in compute_changes(loaded, silent)}
    assert changes == {
        "instance_type": ("-", "ml.m5.xlarge"),
        "instance_count": ("-", "2"),
        "autoscaling": ("-", "2-6"),
    }
