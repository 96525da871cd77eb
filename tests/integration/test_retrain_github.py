"""Retrain by pull request through GitHubForge (PyGithub) against the local fake GitHub."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "unit" / "ci"))
sys.path.insert(0, str(HERE.parents[1]))

from ci_support import github_forge, manifest_files  # noqa: E402
from github_api.fixtures import github_api, github_server  # noqa: E402, F401
from github_api.server import RunningServer  # noqa: E402

from ci.errors import ForgeError  # noqa: E402
from ci.forge.github import GitHubForge  # noqa: E402
from ci.retrain import RetrainResult, request_retrain, stamp_path  # noqa: E402
from ci.retrain_input import findings_of  # noqa: E402

pytestmark = pytest.mark.integration
MODEL = "driver_ranking"
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def summary(*features: str) -> dict[str, Any]:
    return {
        "status": "CompletedWithViolations" if features else "Completed",
        "window": {"requests": 2000, "first_inference_time": "2026-03-01 00:00:00"},
        "violations": [
            {
                "feature_name": f,
                "constraint_check_type": "baseline_drift_check",
                "description": f"{f} drifted",
            }
            for f in features
        ],
    }


class World:
    def __init__(self, server: RunningServer) -> None:
        self.state = server.state
        self.repo = server.state.add_repo("acme/churn", files=manifest_files())
        self.forge: GitHubForge = github_forge(server.url)

    def run(self, doc: dict[str, Any], *, env: str = "prod", hours: int = 0) -> RetrainResult:
        return request_retrain(
            forge=self.forge,
            env=env,
            model=MODEL,
            findings=findings_of(doc, env=env, model=MODEL),
            now=T0 + timedelta(hours=hours),
            base="main",
            report_url=f"https://ci.example/artifacts/{hours}",
        )

    def calls(self, method: str, pattern: str) -> list[int]:
        return [c.status for c in self.state.calls_to(method, pattern)]


@pytest.fixture
def world(github_api: RunningServer) -> World:  # noqa: F811
    return World(github_api)


def test_a_failed_issue_creation_converges_on_rerun(world: World) -> None:
    world.state.fail_next("POST", r"/issues$", status=422, message="Validation Failed")
    with pytest.raises(ForgeError):
        world.run(summary("conv_rate"))
    assert len(world.repo.pulls) == 1
    assert all(number in world.repo.pulls for number in world.repo.issues)
    done = world.run(summary("conv_rate"), hours=1)
    assert done.issue is not None
    assert done.pr is not None
    assert len(world.repo.pulls) == 1
    assert len(world.repo.issues) == 2  # the pull request and the issue share numbers
    assert f"#{done.pr.number}" in done.issue.body
    assert world.calls("PUT", r"/contents/") == [201], "the stamp is committed once"


def test_two_runs_make_one_pr_and_one_issue_and_a_clean_run_closes_it(world: World) -> None:
    first = world.run(summary("conv_rate"))
    second = world.run(summary("conv_rate", "rating"), hours=6)
    assert first.pr is not None
    assert second.pr is not None
    assert first.issue is not None
    assert second.issue is not None
    assert (second.pr.number, second.issue.number) == (first.pr.number, first.issue.number)
    assert (second.pr_action, second.issue_action) == ("updated", "updated")
    assert len(world.repo.pulls) == 1
    assert "rating drifted" in second.issue.body
    stamp = world.forge.read_file(path=stamp_path(MODEL), ref=second.pr.head)
    assert stamp is not None
    assert json.loads(stamp)["why"]["prod"]["violations"] == [
        "baseline_drift_check: conv_rate",
        "baseline_drift_check: rating",
    ]
    assert world.forge.changed_paths(base="main", head=second.pr.head) == [stamp_path(MODEL)]
    other = world.run(summary("acc_rate"), env="staging", hours=7)
    assert other.pr is not None
    assert other.issue is not None
    assert other.pr.number == first.pr.number
    assert other.issue.number != first.issue.number

    closed = world.run(summary(), hours=12)
    assert closed.action == "closed"
    assert world.repo.issues[first.issue.number]["state"] == "closed"
    assert world.repo.issues[other.issue.number]["state"] == "open"
    assert world.forge.get_pr(number=first.pr.number).state == "open"
    assert len(world.forge.list_comments(number=first.issue.number)) == 1
    assert world.run(summary(), hours=13).action == "none"
