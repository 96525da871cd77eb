"""The ci CLI with --forge github against the fake GitHub; pagination; the token stays secret."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "unit" / "ci"))
sys.path.insert(0, str(HERE.parents[1]))

from ci_support import FakeRegistry, github_forge, manifest_files, seed_history  # noqa: E402
from github_api.fixtures import github_api, github_server  # noqa: E402, F401
from github_api.server import RunningServer  # noqa: E402

import ci.context  # noqa: E402
from ci.errors import CiConfigError, ForgeError, ForgeNotFoundError  # noqa: E402
from ci.forge.github import GitHubForge  # noqa: E402
from ci.markers import marker  # noqa: E402
from ci.settings import CiSettings, load_ci_settings  # noqa: E402
from ci.sticky import upsert_sticky  # noqa: E402
from foundation.errors import SettingsError  # noqa: E402
from slipway.cli.ci import ci_app  # noqa: E402
from slipway.cli.promote import promote_command  # noqa: E402

pytestmark = pytest.mark.integration
SECRET = "ghp_very_secret_test_token"


@pytest.fixture
def server(github_api: RunningServer) -> RunningServer:  # noqa: F811
    github_api.state.add_repo("acme/churn", files=manifest_files())
    return github_api


def test_cli_promote_and_comment_plan_on_github(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    registry = FakeRegistry()
    registry.add()
    monkeypatch.setattr(ci.context, "registry_opener", registry.opener)
    # staging takes only versions deployed healthily in dev (environments.yaml)
    seed_history(tmp_path / "deploy-state", "dev", 1)
    outputs = tmp_path / "github-output"
    summary = tmp_path / "step-summary.md"
    for key, value in {
        "SLIPWAY_FORGE": "github",
        "SLIPWAY_GITHUB_TOKEN": server.token,
        "SLIPWAY_GITHUB_REPOSITORY": "acme/churn",
        "SLIPWAY_GITHUB_API_URL": server.url,
        "SLIPWAY_GITHUB_SECONDS_BETWEEN_WRITES": "0",
        "SLIPWAY_DEPLOY_STATE_DIR": str(tmp_path / "deploy-state"),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SERVER_URL": "https://github.test",
        "GITHUB_REPOSITORY": "acme/churn",
        "GITHUB_RUN_ID": "77",
    }.items():
        monkeypatch.setenv(key, value)
    app = typer.Typer()
    app.command("promote")(promote_command)
    app.add_typer(ci_app, name="ci")
    runner = CliRunner()

    promoted = runner.invoke(
        app,
        ["promote", "--to", "staging", "--from", "dev", "--model", "driver_ranking", "-f", "json"],
    )
    assert promoted.exit_code == 0, promoted.output
    number = json.loads(promoted.output)["pr_number"]
    assert f"pr-number={number}\n" in outputs.read_text()
    assert "changed=true\n" in outputs.read_text()

    planned = runner.invoke(app, ["ci", "comment-plan", "--pr", str(number)])
    assert planned.exit_code == 0, planned.output
    assert "status slipway/plan: success" in planned.output
    assert "status slipway/policy: success" in planned.output
    assert "Deploy plan" in summary.read_text()
    status = server.state.repos["acme/churn"].statuses
    [head] = status
    assert {s["target_url"] for s in status[head]} == {
        "https://github.test/acme/churn/issues/1#issuecomment-1001"
    }
    assert "actions/runs/77" in server.state.repos["acme/churn"].comments[1001]["body"]


def test_sticky_comment_is_found_past_the_first_page(server: RunningServer) -> None:
    forge = github_forge(server.url)
    repo = server.state.repos["acme/churn"]
    forge.push_file(branch="b", base="main", path="x.txt", content="x\n", message="m", reset=False)
    number = forge.create_pr(head="b", base="main", title="t", body="", labels=()).number
    for index in range(150):
        forge.create_comment(number=number, body=f"chatter {index}")
    sticky = forge.create_comment(number=number, body=marker("plan:dev") + "\nold")
    result = upsert_sticky(forge, number=number, key="plan:dev", body="new\n", digest="abcd1234")
    assert result.edited == [sticky.id]
    assert not result.created
    pages = server.state.calls_to("GET", rf"/issues/{number}/comments$")
    assert [c.query.get("page") for c in pages[-2:]] == [None, "2"]
    assert len(repo.comments) == 151


def test_no_network_at_construction_and_the_token_never_shows(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.state.token = SECRET
    server.state.clear_calls()
    forge = github_forge(server.url, token=SECRET)
    assert server.state.calls == [], "constructing the forge sends nothing"
    assert SECRET not in repr(forge)
    settings = CiSettings(forge="github", github_token=SECRET, github_repository="acme/churn")
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    caplog.set_level(logging.DEBUG)
    server.state.fail_next("GET", r"/pulls/9$", status=502, times=2)
    with pytest.raises(ForgeNotFoundError):
        forge.get_pr(number=9)
    assert [c.status for c in server.state.calls_to("GET", r"/pulls/9$")] == [502, 502, 404]
    assert "retry 2/4" in caplog.text
    assert SECRET not in caplog.text
    wrong = github_forge(server.url, token="ghp_wrong")
    with pytest.raises(ForgeError, match="HTTP 401") as raised:
        wrong.get_pr(number=9)
    assert "ghp_wrong" not in str(raised.value)
    assert "ghp_wrong" not in caplog.text


def test_settings_errors_name_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("SLIPWAY_GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("SLIPWAY_GITHUB_REPOSITORY", raising=False)
    with pytest.raises(CiConfigError, match="SLIPWAY_GITHUB_TOKEN"):
        GitHubForge(settings=load_ci_settings(forge="github"))
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)
    with pytest.raises(CiConfigError, match="SLIPWAY_GITHUB_REPOSITORY"):
        GitHubForge(settings=load_ci_settings(forge="github"))
    monkeypatch.setenv("SLIPWAY_GITHUB_REPOSITORY", "not a repo!")
    with pytest.raises(SettingsError) as raised:
        load_ci_settings()
    assert "SLIPWAY_GITHUB_REPOSITORY" in str(raised.value)
    assert "not a repo" not in str(raised.value)
    monkeypatch.setenv("SLIPWAY_GITHUB_REPOSITORY", "acme/churn")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example/api/v3")
    loaded = load_ci_settings()
    assert loaded.github_token is not None
    assert loaded.github_token.get_secret_value() == SECRET
    assert loaded.github_api_url == "https://ghe.example/api/v3"


def test_cli_pr_commands_work_on_github(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from github_api.state import Protection

    repo = server.state.repos["acme/churn"]
    repo.protection["main"] = Protection(required_contexts=[])
    server.state.add_user("alice", token="alice-token")
    forge = github_forge(server.url)
    forge.push_file(branch="b", base="main", path="x.txt", content="x\n", message="m", reset=False)
    number = forge.create_pr(head="b", base="main", title="Tweak", body="", labels=()).number
    for key, value in {
        "SLIPWAY_FORGE": "github",
        "SLIPWAY_GITHUB_TOKEN": server.token,
        "SLIPWAY_GITHUB_REPOSITORY": "acme/churn",
        "SLIPWAY_GITHUB_API_URL": server.url,
        "SLIPWAY_GITHUB_SECONDS_BETWEEN_WRITES": "0",
    }.items():
        monkeypatch.setenv(key, value)
    app = typer.Typer()
    app.add_typer(ci_app, name="ci")
    runner = CliRunner()

    refused = runner.invoke(app, ["ci", "pr", "merge", str(number)])
    assert refused.exit_code == 1
    assert "approving review is required" in str(refused.exception)
    own = runner.invoke(app, ["ci", "pr", "approve", str(number)])
    assert "own pull request" in str(own.exception)
    listed = json.loads(runner.invoke(app, ["ci", "pr", "list", "-f", "json"]).output)
    assert [p["number"] for p in listed["pull_requests"]] == [number]

    monkeypatch.setenv("SLIPWAY_GITHUB_TOKEN", "alice-token")
    approved = runner.invoke(app, ["ci", "pr", "approve", str(number), "-f", "json"])
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["reviewer"] == "alice"
    shown = json.loads(runner.invoke(app, ["ci", "pr", "show", str(number), "-f", "json"]).output)
    assert shown["approved_by"] == ["alice"]
    assert shown["title"] == "Tweak"
    merged = runner.invoke(app, ["ci", "pr", "merge", str(number)])
    assert merged.exit_code == 0, merged.output
    assert "merged into main" in merged.output
    text = runner.invoke(app, ["ci", "pr", "list", "--state", "merged"]).output
    assert f"#{number}  merged" in text
