"""Promotion steps and helpers: version resolution, body metadata, env inference, GX, CLI help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from ci_support import MANIFESTS, MANIFESTS_DIR, FakeRegistry, planner
from typer.testing import CliRunner

from ci.comment import comment_plan, infer_envs
from ci.drift import load_statuses
from ci.errors import CiError, PromotionError
from ci.forge.local import LocalForge
from ci.forge.records import PrEdit
from ci.gx_summary import from_report_dir, gx_markdown
from ci.steps.body import Proposal, previous_model, render_body
from ci.steps.resolve import parse_version, resolve_candidate
from model_deploy.manifest.loader import parse_manifest
from model_deploy.manifest.model import ModelRef
from slipway.cli.ci import ci_app
from slipway.cli.promote import promote_command


def loaded(env: str, model: str = "driver_ranking"):
    text = (MANIFESTS / env / f"{model}.yaml").read_text()
    return parse_manifest(text=text, source=f"{env}/{model}.yaml", expected_env=env)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", (None, 3)), ("driver_ranking:12", ("driver_ranking", 12)), (" 7 ", (None, 7))],
)
def test_parse_version(text: str, expected: tuple[str | None, int]) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["0", "v2", "a:b", "-1", "m:"])
def test_parse_version_refuses_junk(text: str) -> None:
    with pytest.raises(PromotionError, match="not a version"):
        parse_version(text)


def test_an_explicit_version_borrows_the_model_name_from_another_manifest(
    registry: FakeRegistry,
) -> None:
    candidate = resolve_candidate(
        target=loaded("staging"),
        version="2",
        source=None,
        others={"dev": loaded("dev")},
        registries=registry.opener(),
    )
    assert candidate.model == ModelRef(
        registry="local", name="driver_ranking", version=2, feature_service="driver_ranking_v1"
    )
    assert not candidate.rejected
    assert candidate.source_env is None


def test_resolution_errors_are_one_sentence(registry: FakeRegistry) -> None:
    opener = registry.opener()
    with pytest.raises(PromotionError, match="write the version as MODEL:2"):
        resolve_candidate(
            target=loaded("staging"), version="2", source=None, others={}, registries=opener
        )
    with pytest.raises(PromotionError, match="model: null"):
        resolve_candidate(
            target=loaded("prod"),
            version=None,
            source=loaded("staging"),
            others={},
            registries=opener,
        )
    with pytest.raises(PromotionError, match="driver_ranking:9 cannot be read"):
        resolve_candidate(
            target=loaded("dev"), version="9", source=None, others={}, registries=opener
        )


def test_body_metadata_gives_back_the_previous_model(registry: FakeRegistry) -> None:
    v1 = loaded("dev").manifest.model
    proposal = Proposal(
        kind="promote",
        env="staging",
        path="s.yaml",
        model=v1,
        previous=None,
        record=registry.get(model_name="driver_ranking", version=1),
        why="because --> here",
        command="slipway promote --to staging 1",
    )
    body = render_body(proposal)
    assert previous_model(body) == (True, None)
    assert "because --&gt; here" in body
    assert "Deploy plan:** not posted yet" in body, "a link to the plan comment, no plan"
    again = Proposal(**{**proposal.__dict__, "previous": v1})
    assert previous_model(render_body(again)) == (True, v1)
    assert previous_model("a human wrote this") == (False, None)


def test_infer_envs_from_branch_labels_or_changed_manifests(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    for path in (
        f"{MANIFESTS_DIR}/prod/trip_fare.yaml",
        f"{MANIFESTS_DIR}/dev/driver_ranking.yaml",
    ):
        text = forge.read_file(path=path, ref="main")
        assert text is not None
        forge.push_file(
            branch="tweak", base="main", path=path, content=text + "# note\n", message="m",
            reset=False,
        )  # fmt: skip
    pr = forge.create_pr(head="tweak", base="main", title="t", body="", labels=())
    # every changed manifest, in promotion order; the untouched ones are not planned
    assert infer_envs(forge, pr, manifests_dir=MANIFESTS_DIR) == [
        "dev/driver_ranking",
        "prod/trip_fare",
    ]
    labelled = forge.update_pr(number=pr.number, edit=PrEdit(labels=("env:dev/trip_fare",)))
    assert infer_envs(forge, labelled, manifests_dir=MANIFESTS_DIR) == ["dev/trip_fare"]
    named = pr.__class__(**{**pr.__dict__, "head": "slipway/promote-staging/trip_fare"})
    assert infer_envs(forge, named, manifests_dir=MANIFESTS_DIR) == ["staging/trip_fare"]


def test_a_broken_manifest_gets_a_plan_failure_comment_and_status(
    repo: Path, registry: FakeRegistry, tmp_path: Path
) -> None:
    forge = LocalForge(repo=repo)
    forge.push_file(
        branch="slipway/promote-dev/driver_ranking",
        base="main",
        path=f"{MANIFESTS_DIR}/dev/driver_ranking.yaml",
        content="environment: dev\nmodel: null\ntarget: {kind: nowhere}\n",
        message="break",
        reset=False,
    )
    pr = forge.create_pr(
        head="slipway/promote-dev/driver_ranking", base="main", title="t", body="", labels=()
    )
    result = comment_plan(
        forge=forge,
        number=pr.number,
        planner=planner(tmp_path, registry),
        manifests_dir=MANIFESTS_DIR,
    )
    assert "target" in result.errors["dev/driver_ranking"]
    [comment] = forge.list_comments(number=pr.number)
    assert "The plan could not be computed" in comment.body
    assert "```diff" in comment.body
    states = {s.context: s.state for s in forge.list_statuses(sha=pr.head_sha)}
    assert states == {"slipway/plan": "failure", "slipway/policy": "error"}


def test_gx_summary_from_report_files(tmp_path: Path) -> None:
    failing = {
        "expectation_config": {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "conv_rate"},
        },
        "success": False,
        "result": {"unexpected_count": 3, "unexpected_percent": 0.3},
    }
    raw = {
        "results": [failing, {"success": True, "expectation_config": {"type": "x"}}],
        "meta": {"slipway": {"source": "driver_stats", "gate_passed": False, "row_count": 1000}},
    }
    (tmp_path / "driver_stats.json").write_text(json.dumps(raw))
    [summary] = from_report_dir(tmp_path)
    assert not summary.passed
    assert summary.rows == 1000
    assert summary.succeeded == 1
    assert "conv_rate" in summary.failures[0]
    text = "\n".join(gx_markdown([summary]))
    assert "1 of 1 source(s) fail" in text
    assert "| `driver_stats` | ❌ fail | 1,000 | 1/2 |" in text
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(CiError, match="not a Great Expectations"):
        from_report_dir(tmp_path)
    with pytest.raises(CiError, match="no such"):
        from_report_dir(tmp_path / "missing")


def test_drift_statuses_load_from_deploy_status_json(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    path.write_text(json.dumps([{"env": "dev", "in_sync": False, "drift": ["x"]}]))
    assert load_statuses(path)[0].drift == ["x"]
    path.write_text("{}")
    with pytest.raises(CiError, match="deploy status"):
        load_statuses(path)


def test_every_command_and_option_has_help() -> None:
    app = typer.Typer()
    app.command("promote")(promote_command)
    app.add_typer(ci_app, name="ci")
    runner = CliRunner()
    commands = [
        ["promote"],
        ["ci"],
        ["ci", "comment-plan"],
        ["ci", "report-deploy"],
        ["ci", "drift-issue"],
        ["ci", "pr"],
        ["ci", "pr", "list"],
        ["ci", "pr", "show"],
        ["ci", "pr", "approve"],
        ["ci", "pr", "merge"],
    ]
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output
    assert (
        "GitHub/PR automation used by the workflows." in runner.invoke(app, ["ci", "--help"]).output
    )
    promote_help = runner.invoke(app, ["promote", "--help"], terminal_width=200).output
    for flag in ("--to", "--from", "--override-rejection", "--forge", "--base", "--format"):
        assert flag in promote_help
