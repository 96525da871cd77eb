"""The local forge in a temp git repo, driven through the CLI: promote, plan, approve, merge."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ci"))

from ci_support import MANIFESTS_DIR, FakeRegistry, git, make_git_repo, seed_history

import ci.context
from ci.errors import PromotionError
from ci.forge.local import LocalForge
from model_build.registry.protocol import ApprovalStatus
from slipway.cli.ci import ci_app
from slipway.cli.promote import promote_command

pytestmark = pytest.mark.integration
STAGING = f"{MANIFESTS_DIR}/staging/driver_ranking.yaml"
BRANCH = "slipway/promote-staging/driver_ranking"
FROM_DEV = ("--from", "dev", "--model", "driver_ranking")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "repo")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeRegistry:
    fake = FakeRegistry()
    fake.add()
    fake.add()
    fake.add(status=ApprovalStatus.REJECTED, reason="worse on holdout")
    monkeypatch.setattr(ci.context, "registry_opener", fake.opener)
    monkeypatch.setenv("SLIPWAY_DEPLOY_STATE_DIR", str(tmp_path / "deploy-state"))
    # staging takes only versions deployed healthily in dev (environments.yaml): dev's history
    for version in (1, 2):
        seed_history(tmp_path / "deploy-state", "dev", version)
    for name in ("SLIPWAY_FORGE", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    return fake


@pytest.fixture
def cli(repo: Path, registry: FakeRegistry):
    app = typer.Typer()
    app.command("promote")(promote_command)
    app.add_typer(ci_app, name="ci")
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, [*args, "--repo-dir", str(repo)])
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    return run


def test_promote_opens_a_branch_with_a_minimal_manifest_diff(cli, repo: Path) -> None:
    result = cli(
        "promote",
        "--to",
        "staging",
        "--from",
        "dev",
        "--model",
        "driver_ranking",
        "--format",
        "json",
    )
    doc = json.loads(result.output)
    assert doc["pr_number"] == 1
    assert doc["pr_action"] == "created"
    assert doc["committed"]
    diff = git(repo, "diff", "--unified=0", "main", BRANCH)
    changed = [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        "-model: null",
        "+model:",
        "+  registry: local",
        "+  name: driver_ranking",
        "+  version: 1",
        "+  feature_service: driver_ranking_v1",
    ]
    assert git(repo, "diff", "--stat", "main", BRANCH).count("|") == 1, "one file changed"
    assert git(repo, "status", "--porcelain") == "", "the work tree is untouched"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    message = git(repo, "log", "-1", "--format=%B", BRANCH)
    assert message.startswith("Promote driver_ranking:1 to staging")
    assert "Slipway-Promote: staging/driver_ranking driver_ranking:1" in message


def test_rerun_is_a_no_op(cli, repo: Path) -> None:
    cli("promote", "--to", "staging", *FROM_DEV)
    head = git(repo, "rev-parse", BRANCH)
    records = repo / ".git" / "slipway" / "prs" / "1.json"
    before = records.read_text()
    doc = json.loads(cli("promote", "--to", "staging", *FROM_DEV, "-f", "json").output)
    assert doc["pr_number"] == 1
    assert doc["pr_action"] == "unchanged"
    assert not doc["committed"]
    assert not doc["changed"]
    assert git(repo, "rev-parse", BRANCH) == head
    assert records.read_text() == before
    assert len(LocalForge(repo=repo).list_prs(state=None)) == 1


def test_plan_approve_and_merge_update_main(cli, repo: Path) -> None:
    cli("promote", "--to", "staging", *FROM_DEV)
    planned = json.loads(cli("ci", "comment-plan", "--pr", "1", "-f", "json").output)
    assert planned["statuses"] == {"slipway/plan": "success", "slipway/policy": "success"}
    assert not planned["blocked"]
    assert len(planned["comments"]["staging/driver_ranking"]) == 1
    blocked = cli("ci", "pr", "merge", "1", ok=False)
    assert blocked.exit_code == 1
    assert "not approved" in str(blocked.exception)
    cli("ci", "pr", "approve", "1", "--by", "alice")
    shown = json.loads(cli("ci", "pr", "show", "1", "-f", "json").output)
    assert shown["approved_by"] == ["alice"]
    assert shown["statuses"]["slipway/plan"] == "success"
    assert "merged into main" in cli("ci", "pr", "merge", "1").output
    assert "version: 1" in (repo / STAGING).read_text(), "main is checked out: it moved"
    assert git(repo, "log", "-1", "--format=%P", "main").count(" ") == 1, "a merge commit"
    assert "merged" in cli("ci", "pr", "list", "--state", "all").output
    nothing = json.loads(cli("promote", "--to", "staging", *FROM_DEV, "-f", "json").output)
    assert nothing["noop"]
    assert nothing["pr_number"] is None


def test_rejected_version_is_refused_without_override(cli, repo: Path) -> None:
    refused = cli("promote", "--to", "staging", "driver_ranking:3", ok=False)
    assert refused.exit_code == 1
    assert isinstance(refused.exception, PromotionError)
    assert "Rejected in the registry (worse on holdout)" in str(refused.exception)
    assert git(repo, "branch", "--list", BRANCH) == ""
    cli("promote", "--to", "staging", "3", "--model", "driver_ranking", "--override-rejection")
    body = LocalForge(repo=repo).get_pr(number=1).body
    assert "Rejection overridden" in body
    assert "worse on holdout" in body
    assert "still blocks `slipway deploy apply staging/driver_ranking`" in body
    planned = json.loads(cli("ci", "comment-plan", "--pr", "1", "-f", "json").output)
    assert planned["blocked"], "the approval policy still blocks it"
    assert planned["statuses"]["slipway/policy"] == "failure"


def test_deploy_failure_after_merge_rejects_and_reverts(
    cli,
    repo: Path,
    registry: FakeRegistry,
    tmp_path: Path,
) -> None:
    cli("promote", "--to", "staging", *FROM_DEV)
    cli("ci", "comment-plan", "--pr", "1")
    cli("ci", "pr", "approve", "1", "--by", "alice")
    cli("ci", "pr", "merge", "1")
    cli("promote", "--to", "staging", "driver_ranking:2")
    cli("ci", "comment-plan", "--pr", "2")
    cli("ci", "pr", "approve", "2", "--by", "alice")
    cli("ci", "pr", "merge", "2")
    sha = git(repo, "rev-parse", "main")
    outcome = tmp_path / "apply.json"
    outcome.write_text(
        json.dumps(
            {
                "env": "staging/driver_ranking",
                "action": "apply",
                "outcome": "rolled-back",
                "cause": "model",
                "change_kind": "promotion",
                "message": "staging: driver_ranking:2 failed its smoke tests; rolled back",
                "desired": "driver_ranking:2",
                "previously_serving": "driver_ranking:1",
                "now_serving": "driver_ranking:1",
                "reasons": ["smoke test 1 failed"],
                "exit_code": 5,
                "finished_at": "2026-03-01T12:00:00Z",
            }
        )
    )
    nothing_serves = tmp_path / "status.json"
    nothing_serves.write_text("[]")
    report = (
        "ci", "report-deploy", "--env", "staging/driver_ranking", "--sha", sha, "--pr", "2",
    )  # fmt: skip
    failed = (
        *report,
        "--outcome-file",
        str(outcome),
        "--status-json",
        str(nothing_serves),
        "--log-url",
        "file:///tmp/deploy.log",
        "-f",
        "json",
    )
    result = cli(*failed)
    doc = json.loads(result.output)
    assert doc["added"] == ["in_progress", "failure"]
    assert doc["rejected"]
    forge = LocalForge(repo=repo)
    revert = forge.get_pr(number=doc["revert_pr"])
    assert revert.head == "slipway/revert-staging/driver_ranking"
    assert "version: 1" in forge.read_file(path=STAGING, ref=revert.head)
    assert forge.list_issues()[0].number == doc["issue"]
    assert registry.get(model_name="driver_ranking", version=2).status == ApprovalStatus.REJECTED
    again = json.loads(cli(*failed).output)
    assert again["added"] == []
    assert not again["rejected"]
    assert again["revert_pr"] == revert.number
    assert len(forge.list_issues()) == 1
    assert len(forge.list_prs(state=None)) == 3


def test_bad_input_is_one_line_errors(cli) -> None:
    both = cli("promote", "--to", "staging", "2", *FROM_DEV, ok=False)
    assert "either a VERSION or --from" in str(both.exception)
    unknown = cli("promote", "--to", "qa", *FROM_DEV, ok=False)
    assert "no manifest for 'qa/driver_ranking'" in str(unknown.exception)
    unnamed = cli("promote", "--to", "staging", "--from", "dev", ok=False)
    assert "which model?" in str(unnamed.exception)
    bad = cli("promote", "--to", "staging", "v2", ok=False)
    assert "not a version" in str(bad.exception)
