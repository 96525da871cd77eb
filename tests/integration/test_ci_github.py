"""GitHubForge (PyGithub) against the local fake GitHub: promotion, plan comments, deploys."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "unit" / "ci"))
sys.path.insert(0, str(HERE.parents[1]))

from ci_support import (  # noqa: E402
    MANIFESTS_DIR,
    FakeRegistry,
    github_forge,
    manifest_files,
    planner,
    seed_history,
)
from github_api.fixtures import github_api, github_server  # noqa: E402, F401
from github_api.server import RunningServer  # noqa: E402

from ci.comment import comment_plan  # noqa: E402
from ci.deployments import report_deploy  # noqa: E402
from ci.errors import PromotionError, TransientForgeError  # noqa: E402
from ci.forge.github import GitHubForge  # noqa: E402
from ci.gx_summary import SourceSummary  # noqa: E402
from ci.outcome import ApplyOutcome  # noqa: E402
from ci.promote import PromotionRequest, promote  # noqa: E402
from model_build.registry.protocol import ApprovalStatus  # noqa: E402
from model_deploy.status import EnvStatus  # noqa: E402

pytestmark = pytest.mark.integration
STAGING = f"{MANIFESTS_DIR}/staging/driver_ranking.yaml"


class Env:
    """A seeded fake GitHub, a GitHubForge on it, a registry and a planner."""

    def __init__(self, server: RunningServer, tmp_path: Path) -> None:
        self.server = server
        self.state = server.state
        self.repo = self.state.add_repo("acme/churn", files=manifest_files())
        self.sleeps: list[float] = []
        self.forge: GitHubForge = github_forge(server.url, sleeps=self.sleeps)
        self.registry = FakeRegistry()
        self.registry.add()  # 1: Approved (dev's manifest names it)
        self.registry.add()  # 2: Approved
        # staging takes only versions deployed healthily in dev (environments.yaml)
        for version in (1, 2, 3):
            seed_history(tmp_path / "deploy-state", "dev", version)
        self.planner = planner(tmp_path, self.registry)

    def promote(self, **kwargs: object):
        request = PromotionRequest(
            **{"env": "staging/driver_ranking", "model": "driver_ranking", **kwargs}
        )  # type: ignore[arg-type]
        return promote(
            request, forge=self.forge, registries=self.registry.opener(), planner=self.planner
        )

    def report(
        self,
        *,
        sha: str,
        result: str | None = None,
        pr_number: int,
        log_url: str,
        outcome: ApplyOutcome | None = None,
        serving: list[EnvStatus] | None = None,
    ):
        return report_deploy(
            forge=self.forge,
            env="staging/driver_ranking",
            sha=sha,
            result=result,  # type: ignore[arg-type]
            outcome=outcome,
            pr_number=pr_number,
            log_url=log_url,
            registries=self.registry.opener(),
            planner=self.planner,
            manifests_dir=MANIFESTS_DIR,
            base="main",
            serving=lambda: list(serving or []),
        )

    def calls(self, method: str, pattern: str) -> list[int]:
        return [c.status for c in self.state.calls_to(method, pattern)]


@pytest.fixture
def env(github_api: RunningServer, tmp_path: Path) -> Env:  # noqa: F811
    return Env(github_api, tmp_path)


def test_promote_twice_gives_one_pr_and_one_commit(env: Env) -> None:
    first = env.promote(source_env="dev")
    assert first.pr is not None
    assert first.pr_action == "created"
    assert first.commit.changed
    assert first.pr.head == "slipway/promote-staging/driver_ranking"
    assert first.pr.base == "main"
    assert set(first.pr.labels) == {"slipway:promotion", "env:staging/driver_ranking"}
    body = first.pr.body
    assert "<!-- slipway:promote:staging/driver_ranking -->" in body
    assert "Deploy plan" in body
    assert "driver_ranking:1" in body
    assert "sha256:" in body
    branch_text = env.forge.read_file(path=STAGING, ref="slipway/promote-staging/driver_ranking")
    main_text = env.forge.read_file(path=STAGING, ref="main")
    assert branch_text != main_text
    assert main_text.replace("model: null\n", "") == branch_text.replace(
        "model:\n  registry: local\n  name: driver_ranking\n  version: 1\n"
        "  feature_service: driver_ranking_v1\n",
        "",
    )

    env.state.clear_calls()
    second = env.promote(source_env="dev")
    assert second.pr.number == first.pr.number
    assert second.pr_action == "unchanged"
    assert not second.changed
    assert not second.commit.changed
    assert env.calls("PUT", "/contents/") == []
    assert env.calls("POST", "/pulls$") == []
    assert env.calls("PATCH", "/pulls/") == []
    assert env.calls("POST", "/comments") == []

    third = env.promote(version="2")
    assert third.pr.number == first.pr.number
    assert third.pr_action == "updated"
    assert third.pr.title == "Promote driver_ranking:2 to staging/driver_ranking"
    assert len(env.repo.pulls) == 1
    assert env.repo.commits[third.commit.sha].parents == [first.commit.sha], "no force-push"


def test_comment_plan_twice_gives_one_comment_edited_in_place(env: Env, tmp_path: Path) -> None:
    pr = env.promote(source_env="dev").pr
    summary = tmp_path / "step-summary.md"
    first = comment_plan(
        forge=env.forge,
        number=pr.number,
        planner=env.planner,
        manifests_dir=MANIFESTS_DIR,
        step_summary=summary,
        run_url="https://ci.example/run/1",
    )
    [comment] = first.comments["staging/driver_ranking"].comments
    assert comment.body.startswith("<!-- slipway:plan:staging/driver_ranking -->")
    assert "Policy checks" in comment.body
    assert "```diff" in comment.body
    assert "+  version: 1" in comment.body
    assert "Evidence" in comment.body
    statuses = {s["context"]: s["state"] for s in env.repo.statuses[pr.head_sha]}
    assert statuses == {"slipway/plan": "success", "slipway/policy": "success"}
    assert "Deploy plan" in summary.read_text()

    env.state.clear_calls()
    comment_plan(
        forge=env.forge,
        number=pr.number,
        planner=env.planner,
        manifests_dir=MANIFESTS_DIR,
        run_url="https://ci.example/run/2",
    )
    assert env.calls("POST", "/comments$") == []
    assert env.calls("PATCH", "/comments/") == []

    new_head = env.promote(version="2").pr.head_sha
    again = comment_plan(
        forge=env.forge, number=pr.number, planner=env.planner, manifests_dir=MANIFESTS_DIR
    )
    assert again.comments["staging/driver_ranking"].edited == [comment.id]
    assert [c["id"] for c in env.repo.comments.values()] == [comment.id]
    assert "driver_ranking:2" in env.repo.comments[comment.id]["body"]
    assert {s["context"] for s in env.repo.statuses[new_head]} == {"slipway/plan", "slipway/policy"}


def test_a_blocking_policy_fails_the_policy_status(env: Env) -> None:
    env.registry.add(status=ApprovalStatus.PENDING)  # 3: staging only takes Approved
    pr = env.promote(version="3").pr
    result = comment_plan(
        forge=env.forge, number=pr.number, planner=env.planner, manifests_dir=MANIFESTS_DIR
    )
    assert result.blocked
    latest = {s["context"]: s for s in reversed(env.repo.statuses[pr.head_sha])}
    assert latest["slipway/plan"]["state"] == "success"
    assert latest["slipway/policy"]["state"] == "failure"
    assert "approval" in latest["slipway/policy"]["description"]


def test_502_then_200_is_retried_not_fatal(env: Env) -> None:
    env.state.fail_next("POST", r"/pulls$", status=502)
    env.state.fail_next("PUT", r"/contents/", status=502)
    env.state.fail_next("GET", r"/git/ref/heads/main$", status=503, times=2)
    result = env.promote(source_env="dev")
    assert result.pr_action == "created"
    assert len(env.repo.pulls) == 1
    assert env.calls("POST", r"/pulls$") == [502, 201]
    assert env.calls("PUT", r"/contents/") == [502, 200]
    assert len(env.sleeps) == 4
    assert all(0 < s <= 30 for s in env.sleeps)


def test_429_retry_after_is_respected_and_bounded(env: Env) -> None:
    number = env.promote(source_env="dev").pr.number
    env.state.fail_next("GET", rf"/pulls/{number}$", status=429, retry_after="2")
    assert env.forge.get_pr(number=number).number == number
    assert env.sleeps[-1] == 2.0

    env.state.fail_next("GET", rf"/pulls/{number}$", status=429, retry_after="3600")
    started = time.monotonic()
    with pytest.raises(TransientForgeError, match="3600 s"):
        env.forge.get_pr(number=number)
    assert time.monotonic() - started < 5
    env.state.fail_next("GET", rf"/pulls/{number}$", status=502, times=20)
    with pytest.raises(TransientForgeError, match="nothing was closed or recreated"):
        comment_plan(
            forge=env.forge, number=number, planner=env.planner, manifests_dir=MANIFESTS_DIR
        )
    env.state.faults.clear()
    assert env.repo.issues[number]["state"] == "open"
    assert not any(
        isinstance(c.body, dict) and c.body.get("state") == "closed" for c in env.state.calls
    )


def test_retry_after_really_waits(github_api: RunningServer, tmp_path: Path) -> None:  # noqa: F811
    github_api.state.add_repo("acme/churn", files=manifest_files())
    forge = github_forge(github_api.url)
    forge._sleep = time.sleep  # real waits for this one
    github_api.state.fail_next("GET", r"/contents/", status=429, retry_after="1")
    started = time.monotonic()
    assert forge.read_file(path=STAGING, ref="main") is not None
    assert 1.0 <= time.monotonic() - started < 4


def test_long_plan_is_split_into_parts_and_shrinks_back(env: Env) -> None:
    pr = env.promote(source_env="dev").pr
    failures = tuple(
        f"expect_column_values_to_be_between(col_{i}): {i} unexpected, e.g. {'9' * 40}"
        for i in range(1500)
    )
    gx = [
        SourceSummary(
            source="driver_stats",
            passed=False,
            rows=10,
            evaluated=1500,
            succeeded=0,
            failures=failures,
        )
    ]
    big = comment_plan(
        forge=env.forge, number=pr.number, planner=env.planner, manifests_dir=MANIFESTS_DIR, gx=gx
    )
    parts = big.comments["staging/driver_ranking"].comments
    assert len(parts) >= 2
    assert all(len(c.body) <= 65_535 for c in parts)
    assert parts[1].body.startswith("<!-- slipway:plan:staging/driver_ranking:part:2 -->")
    assert env.calls("POST", "/comments$") == [201] * len(parts), "the server took every part"
    small = comment_plan(
        forge=env.forge, number=pr.number, planner=env.planner, manifests_dir=MANIFESTS_DIR
    )
    assert small.comments["staging/driver_ranking"].edited == [parts[0].id]
    assert sorted(small.comments["staging/driver_ranking"].deleted) == sorted(
        c.id for c in parts[1:]
    )
    assert list(env.repo.comments) == [parts[0].id]


def test_deploy_reports_and_a_failure_rejects_reverts_and_opens_an_issue(env: Env) -> None:
    first = env.promote(source_env="dev").pr
    merge_v1 = env.forge.merge_pr(number=first.number, message="merge v1")
    ok = env.report(
        sha=merge_v1, result="success", pr_number=first.number, log_url="https://ci.example/log/1"
    )
    assert [s.state for s in ok.added] == ["in_progress", "success"]
    [deployment] = env.repo.deployments.values()
    assert deployment["sha"] == merge_v1
    assert deployment["environment"] == "staging/driver_ranking"
    assert [s["state"] for s in env.repo.deployment_statuses[deployment["id"]]] == [
        "success",
        "in_progress",
    ]
    again = env.report(
        sha=merge_v1, result="success", pr_number=first.number, log_url="https://ci.example/log/1"
    )
    assert again.added == []
    assert len(env.repo.deployments) == 1
    assert not again.comment.changed

    second = env.promote(version="2").pr
    merge_v2 = env.forge.merge_pr(number=second.number, message="merge v2")
    blamed = ApplyOutcome(
        outcome="rolled-back",
        cause="model",
        desired="driver_ranking:2",
        previously_serving="driver_ranking:1",
        now_serving="driver_ranking:1",
        reasons=["smoke test 1: probability 1.7 is above 1.0"],
    )
    failed = env.report(
        sha=merge_v2, outcome=blamed, pr_number=second.number, log_url="https://ci.example/log/2"
    )
    assert [s.state for s in failed.added] == ["in_progress", "failure"]
    record = env.registry.get(model_name="driver_ranking", version=2)
    assert record.status == ApprovalStatus.REJECTED
    assert merge_v2[:12] in record.status_reason
    revert = failed.revert.pr
    assert revert.head == "slipway/revert-staging/driver_ranking"
    assert revert.title == "Revert staging/driver_ranking to driver_ranking:1"
    assert "version: 1" in env.forge.read_file(path=STAGING, ref=revert.head)
    assert failed.issue.title == "Deploy of driver_ranking:2 to staging/driver_ranking failed"
    assert f"#{revert.number}" in failed.issue.body
    comments = [c["body"] for c in env.repo.comments.values() if c["issue"] == second.number]
    assert len(comments) == 1
    assert "failed (cause: model); rolled back to driver_ranking:1" in comments[0]

    counts = (len(env.repo.pulls), len(env.repo.issues), len(env.repo.comments))
    env.report(
        sha=merge_v2, outcome=blamed, pr_number=second.number, log_url="https://ci.example/log/2"
    )
    assert (len(env.repo.pulls), len(env.repo.issues), len(env.repo.comments)) == counts

    env.forge.merge_pr(number=revert.number, message="revert")
    assert "version: 1" in env.forge.read_file(path=STAGING, ref="main")
    with pytest.raises(PromotionError, match=r"Rejected.*--override-rejection"):
        env.promote(version="2")
    forced = env.promote(version="2", override_rejection=True)
    assert "Rejection overridden" in forced.pr.body


def test_drift_issue_is_opened_updated_and_closed(env: Env) -> None:
    from datetime import UTC, datetime

    from ci.drift import drift_issue
    from model_deploy.status import EnvStatus

    now = datetime(2026, 3, 1, tzinfo=UTC)
    drifted = [
        EnvStatus(env="dev", desired_ref="driver_ranking:1", drift=["nothing serves"]),
        EnvStatus(env="prod", in_sync=True, healthy=True),
    ]
    opened = drift_issue(forge=env.forge, statuses=drifted, now=now)
    assert opened.action == "opened"
    assert opened.drifted == ["dev"]
    assert drift_issue(forge=env.forge, statuses=drifted, now=now).action == "unchanged"
    worse = [*drifted[:1], EnvStatus(env="prod", error="cannot read prod.yaml")]
    updated = drift_issue(forge=env.forge, statuses=worse, now=now)
    assert updated.action == "updated"
    assert updated.issue.number == opened.issue.number
    closed = drift_issue(forge=env.forge, statuses=[drifted[1]], now=now)
    assert closed.action == "closed"
    assert env.repo.issues[opened.issue.number]["state"] == "closed"
    assert len(env.repo.issues) == 1


def test_fault1_on_github_a_refused_apply_rejects_nothing_and_opens_no_issue(env: Env) -> None:
    first = env.promote(source_env="dev").pr
    env.forge.merge_pr(number=first.number, message="merge v1")
    second = env.promote(version="2").pr
    merge_v2 = env.forge.merge_pr(number=second.number, message="merge v2")
    refused = ApplyOutcome(
        outcome="refused",
        desired="driver_ranking:2",
        now_serving="driver_ranking:1",
        reasons=["staging is frozen until 2027-01-04T00:00:00+00:00 (end-of-year freeze)."],
    )
    report = env.report(sha=merge_v2, outcome=refused, pr_number=second.number, log_url="https://l")
    [deployment] = env.repo.deployments.values()
    states = [s["state"] for s in env.repo.deployment_statuses[deployment["id"]]]
    assert states == ["error", "in_progress"], "GitHub lists newest first"
    assert (
        "frozen until 2027-01-04"
        in env.repo.deployment_statuses[deployment["id"]][0]["description"]
    )
    assert not report.rejected
    for version in (1, 2):
        status = env.registry.get(model_name="driver_ranking", version=version).status
        assert status == ApprovalStatus.APPROVED
    assert [i for i in env.repo.issues.values() if i["number"] not in env.repo.pulls] == []


def test_fault2_on_github_the_revert_is_one_commit_undoing_every_field(env: Env) -> None:
    first = env.promote(source_env="dev").pr
    env.forge.merge_pr(number=first.number, message="merge v1")
    before = env.forge.read_file(path=STAGING, ref="main")
    assert before is not None
    tightened = before.replace("version: 1", "version: 2").replace(
        "probability: {min: 0.0, max: 1.0}", "probability: {min: 0.99, max: 1.0}"
    )
    env.forge.push_file(
        branch="tighten", base="main", path=STAGING, content=tightened, message="m", reset=False
    )
    pr = env.forge.create_pr(head="tighten", base="main", title="v2, stricter", body="", labels=())
    merge = env.forge.merge_pr(number=pr.number, message="merge tighten")
    config = ApplyOutcome(
        outcome="rolled-back",
        cause="config",
        desired="driver_ranking:2",
        now_serving="driver_ranking:1",
        reasons=["smoke test failed"],
    )
    report = env.report(sha=merge, outcome=config, pr_number=pr.number, log_url="https://l")
    assert not report.rejected
    assert report.revert is not None
    revert_head = env.repo.refs["slipway/revert-staging/driver_ranking"]
    commit = env.repo.commits[revert_head]
    assert commit.parents == [env.repo.refs["main"]], "one commit on top of main"
    assert f"This reverts merge commit {merge}" in commit.message
    assert env.forge.read_file(path=STAGING, ref="slipway/revert-staging/driver_ranking") == before
    assert env.calls("POST", r"/git/trees$") == [201]
    assert env.calls("POST", r"/git/commits$") == [201]
    assert (
        env.registry.get(model_name="driver_ranking", version=2).status == ApprovalStatus.APPROVED
    )


def test_fault3_on_github_the_base_branch_rules_and_team_owners_judge_the_pull_request(
    env: Env,
) -> None:
    with env.state.lock:
        env.repo.commit_file(
            "main", ".github/CODEOWNERS", b"/model_deploy/environments/ @acme/ml\n", "owners"
        )
        env.state.add_user("carol", token="carol-token")
    dev = f"{MANIFESTS_DIR}/dev/driver_ranking.yaml"
    base = env.forge.read_file(path=dev, ref="main")
    assert base is not None
    frozen = base + (
        "\nfreeze_windows:\n  - start: 2998-01-01T00:00:00Z\n    end: 2999-01-01T00:00:00Z\n"
        "    reason: later\n"
    )
    env.forge.push_file(branch="freeze", base="main", path=dev, content=frozen, message="m",
                        reset=False)  # fmt: skip
    pr = env.forge.create_pr(
        head="freeze", base="main", title="freeze", body="", labels=("env:dev/driver_ranking",)
    )
    waiting = comment_plan(
        forge=env.forge, number=pr.number, planner=env.planner, manifests_dir=MANIFESTS_DIR
    )
    latest = {s["context"]: s for s in reversed(env.repo.statuses[pr.head_sha])}
    assert latest["slipway/policy"]["state"] == "failure"
    assert "team members unreadable" in latest["slipway/policy"]["description"]
    assert waiting.governance.checks[0].unverified == ("@acme/ml",)
    env.state.teams["acme/ml"] = ["carol"]
    github_forge(env.server.url, token="carol-token").approve_pr(number=pr.number)
    approved = comment_plan(
        forge=env.forge, number=pr.number, planner=env.planner, manifests_dir=MANIFESTS_DIR
    )
    assert approved.governance.satisfied
    latest = {s["context"]: s for s in reversed(env.repo.statuses[pr.head_sha])}
    assert latest["slipway/policy"]["state"] == "success"


def test_fault10_on_github_the_body_links_the_sticky_plan(env: Env) -> None:
    pr = env.promote(source_env="dev").pr
    assert "Policy checks" not in pr.body
    result = comment_plan(
        forge=env.forge, number=pr.number, planner=env.planner, manifests_dir=MANIFESTS_DIR
    )
    [comment] = result.comments["staging/driver_ranking"].comments
    body = env.repo.issues[pr.number]["body"]
    assert f"[`staging/driver_ranking`]({comment.url})" in body
    assert comment.url.startswith("https://github.test/acme/churn/issues/")
