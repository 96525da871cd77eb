"""One contract for every Forge: the local git forge and GitHubForge on the local GitHub API.

The GitHub half talks HTTP (PyGithub) to ``tests/github_api`` on 127.0.0.1 (one server per
session, state reset for every test). Where the forges really differ the test says so with
``h.kind``: GitHub authenticates people (a token is one user, who may not approve their own
pull request) and merges under branch protection only when the repository sets it up, while
the local forge names reviewers freely and applies its own branch protection (by default an
approval of the head, ``slipway/plan`` and ``slipway/policy`` on it, a branch up to date).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from github_api.fixtures import github_api, github_server  # noqa: F401
from github_api.server import RunningServer
from github_api.state import Protection
from unit.ci.ci_support import github_forge, make_git_repo

from ci.drift import drift_issue
from ci.errors import ForgeError, ForgeNotFoundError, MergeBlockedError, RevertConflictError
from ci.forge import (
    Comments,
    CommitStatus,
    Deployments,
    DeploymentStatus,
    Files,
    Forge,
    IssueEdit,
    Issues,
    PrEdit,
    PullRequests,
    Reviews,
    Statuses,
    Teams,
    Trees,
)
from ci.forge.local import LocalForge
from ci.forge.records import UNPROTECTED, BranchProtection
from ci.markers import marker
from ci.sticky import upsert_sticky
from model_deploy.status import EnvStatus

pytestmark = pytest.mark.integration

FILES = {"README.md": "hello\n", "config/app.txt": "v1\n"}
APP = "config/app.txt"
REVIEWER = "alice"


@dataclass
class Harness:
    """One forge under test: the automation's (``forge``), the reviewer's (the local forge: the
    same; GitHub: her token), one that merges unapproved (``lenient``), ``protect`` making
    merges into main need an approved head, green contexts and an up-to-date branch (GitHub:
    branch protection), and ``add_team`` giving a CODEOWNERS team its members."""

    kind: str
    forge: Forge
    reviewer: Forge
    lenient: Forge
    protect: Callable[[list[str]], None]
    add_team: Callable[[str, list[str]], None]


@pytest.fixture(params=["local", "github"])
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if request.param == "local":
        repo = make_git_repo(tmp_path / "repo", FILES)
        local = LocalForge(repo=repo)
        lenient = LocalForge(repo=repo, protection=UNPROTECTED)

        def protect_local(contexts: list[str]) -> None:
            local.protection = BranchProtection(required_contexts=tuple(contexts))

        return Harness(
            "local",
            local,
            local,
            lenient,
            protect=protect_local,
            add_team=lambda team, members: local.set_team(team=team, members=members) and None,
        )
    server: RunningServer = request.getfixturevalue("github_api")
    repo_state = server.state.add_repo("acme/churn", files=FILES)
    server.state.add_user(REVIEWER, token="alice-token")
    forge = github_forge(server.url)

    def protect(contexts: list[str]) -> None:
        repo_state.protection["main"] = Protection(required_contexts=contexts, strict=True)

    def add_team(team: str, members: list[str]) -> None:
        server.state.teams[team] = members

    return Harness(
        "github",
        forge,
        github_forge(server.url, token="alice-token"),
        forge,
        protect=protect,
        add_team=add_team,
    )


def open_pr(
    forge: Forge, branch: str = "feature", content: str = "v2\n", body: str = "", labels=("x",)
) -> int:
    forge.push_file(
        branch=branch, base="main", path=APP, content=content, message="edit", reset=False
    )
    pr = forge.create_pr(head=branch, base="main", title="Edit", body=body, labels=labels)
    return pr.number


def approvals(forge: Forge, number: int, sha: str) -> list[str]:
    return [
        r.reviewer
        for r in forge.list_reviews(number=number)
        if r.state == "approved" and r.sha == sha
    ]


# -- failure paths first ---------------------------------------------------------------


def test_missing_things_read_as_none_or_raise_not_found(h: Harness) -> None:
    f = h.forge
    assert f.read_file(path="nope.txt", ref="main") is None
    assert f.read_file(path=APP, ref="no-such-branch") is None
    assert f.branch_sha(branch="no-such-branch") is None
    with pytest.raises(ForgeNotFoundError):
        f.push_file(branch="b", base="nope", path=APP, content="x", message="m", reset=False)
    number = open_pr(f)
    missing = number + 50
    not_found: list[Callable[[], object]] = [
        lambda: f.get_pr(number=missing),
        lambda: f.update_pr(number=missing, edit=PrEdit(title="t")),
        lambda: f.list_comments(number=missing),
        lambda: f.create_comment(number=missing, body="x"),
        lambda: f.edit_comment(number=number, comment_id=999_999, body="x"),
        lambda: f.update_issue(number=missing, edit=IssueEdit(state="closed")),
        lambda: f.list_reviews(number=missing),
        lambda: h.reviewer.approve_pr(number=missing),
        lambda: f.merge_pr(number=missing, message="m"),
        lambda: f.list_deployment_statuses(deployment_id=999_999),
        lambda: f.create_deployment_status(
            deployment_id=999_999, status=DeploymentStatus("success", "x")
        ),
    ]
    for call in not_found:
        with pytest.raises(ForgeNotFoundError):
            call()


def test_a_pull_request_needs_two_existing_branches(h: Harness) -> None:
    with pytest.raises(ForgeError):
        h.forge.create_pr(head="main", base="main", title="t", body="", labels=())
    with pytest.raises(ForgeError):
        h.forge.create_pr(head="no-such-branch", base="main", title="t", body="", labels=())
    assert h.forge.list_prs() == []


def test_merging_is_refused_until_the_head_is_approved_and_green(h: Harness) -> None:
    h.protect(["slipway/policy"])
    number = open_pr(h.forge)
    with pytest.raises(MergeBlockedError):
        h.forge.merge_pr(number=number, message="merge")
    h.reviewer.approve_pr(number=number, reviewer=REVIEWER)
    first_head = h.forge.get_pr(number=number).head_sha
    h.forge.push_file(
        branch="feature", base="main", path=APP, content="v3\n", message="push", reset=False
    )
    head = h.forge.get_pr(number=number).head_sha
    assert head != first_head
    assert approvals(h.forge, number, first_head) == [REVIEWER]
    assert approvals(h.forge, number, head) == [], "a push leaves the approval behind"
    with pytest.raises(MergeBlockedError):
        h.forge.merge_pr(number=number, message="merge")
    h.reviewer.approve_pr(number=number, reviewer=REVIEWER)
    h.forge.set_status(sha=head, status=CommitStatus("slipway/policy", "failure", "blocked"))
    with pytest.raises(MergeBlockedError):
        h.forge.merge_pr(number=number, message="merge")
    assert h.forge.get_pr(number=number).state == "open", "a refused merge changes nothing"

    h.forge.set_status(sha=head, status=CommitStatus("slipway/policy", "success", "ok"))
    merge_sha = h.forge.merge_pr(number=number, message="Merge #1\n")
    pr = h.forge.get_pr(number=number)
    assert (pr.state, pr.merge_sha, pr.head_sha) == ("merged", merge_sha, head)
    assert h.forge.branch_sha(branch="main") == merge_sha
    assert h.forge.read_file(path=APP, ref="main") == "v3\n"
    assert [p.number for p in h.forge.list_prs(state="merged")] == [number]
    assert h.forge.list_prs(state="open") == []
    with pytest.raises(MergeBlockedError):
        h.forge.merge_pr(number=number, message="again")
    with pytest.raises(ForgeError):
        h.reviewer.approve_pr(number=number, reviewer=REVIEWER)


def test_fault7_an_unplanned_or_stale_head_does_not_merge_and_the_refusal_says_why(
    h: Harness,
) -> None:
    h.protect(["slipway/plan", "slipway/policy"])
    number = open_pr(h.forge)
    planned = h.forge.get_pr(number=number).head_sha
    h.reviewer.approve_pr(number=number, reviewer=REVIEWER)
    for context in ("slipway/plan", "slipway/policy"):
        h.forge.set_status(sha=planned, status=CommitStatus(context, "success", "planned"))
    h.forge.push_file(
        branch="feature", base="main", path=APP, content="v3\n", message="push", reset=False
    )
    with pytest.raises(MergeBlockedError):  # a new head: never planned, approval left behind
        h.forge.merge_pr(number=number, message="merge")
    head = h.forge.get_pr(number=number).head_sha
    h.reviewer.approve_pr(number=number, reviewer=REVIEWER)
    h.forge.set_status(sha=head, status=CommitStatus("slipway/plan", "success", "planned"))
    h.forge.set_status(
        sha=head, status=CommitStatus("slipway/policy", "failure", "Blocked by prod: freeze")
    )
    with pytest.raises(MergeBlockedError, match="Blocked by prod: freeze"):
        h.forge.merge_pr(number=number, message="merge")
    h.forge.set_status(sha=head, status=CommitStatus("slipway/policy", "success", "ok"))
    other = h.lenient.push_file(
        branch="other", base="main", path="README.md", content="moved\n", message="m", reset=False
    )
    other_pr = h.lenient.create_pr(head="other", base="main", title="o", body="", labels=())
    for context in ("slipway/plan", "slipway/policy"):
        h.forge.set_status(sha=other.sha, status=CommitStatus(context, "success", "planned"))
    h.reviewer.approve_pr(number=other_pr.number, reviewer=REVIEWER)
    h.forge.merge_pr(number=other_pr.number, message="merge other")
    with pytest.raises(MergeBlockedError):  # planned at a head older than main
        h.forge.merge_pr(number=number, message="merge")
    assert h.forge.get_pr(number=number).state == "open"
    assert h.forge.read_file(path=APP, ref="main") == "v1\n"


def test_changed_paths_compare_two_refs(h: Harness) -> None:
    h.forge.push_file(
        branch="feature", base="main", path=APP, content="v2\n", message="m", reset=False
    )
    h.forge.push_file(
        branch="feature", base="main", path="docs/new.md", content="n\n", message="m", reset=False
    )
    assert h.forge.changed_paths(base="main", head="feature") == [APP, "docs/new.md"]
    assert h.forge.changed_paths(base="feature", head="main") == [APP, "docs/new.md"]
    assert h.forge.changed_paths(base="main", head="main") == []
    with pytest.raises(ForgeNotFoundError):
        h.forge.changed_paths(base="main", head="no-such-branch")


def test_revert_merge_undoes_every_file_of_the_merge(h: Harness) -> None:
    h.lenient.push_file(
        branch="feature", base="main", path=APP, content="v2\n", message="m", reset=False
    )
    h.lenient.push_file(
        branch="feature", base="main", path="docs/new.md", content="n\n", message="m", reset=False
    )
    pr = h.lenient.create_pr(head="feature", base="main", title="t", body="", labels=())
    merge_sha = h.lenient.merge_pr(number=pr.number, message="merge feature")
    main = h.forge.branch_sha(branch="main")
    revert = h.forge.revert_merge(
        sha=merge_sha, branch="revert", base="main", message="Revert feature\n"
    )
    assert (revert.changed, revert.created_branch) == (True, True)
    assert h.forge.read_file(path=APP, ref="revert") == "v1\n"
    assert h.forge.read_file(path="docs/new.md", ref="revert") is None
    assert h.forge.read_file(path="README.md", ref="revert") == "hello\n"
    assert h.forge.changed_paths(base="main", head="revert") == [APP, "docs/new.md"]
    assert h.forge.branch_sha(branch="main") == main, "the base is untouched"
    again = h.forge.revert_merge(
        sha=merge_sha, branch="revert", base="main", message="Revert feature\n"
    )
    assert (again.changed, again.sha) == (False, revert.sha)
    h.lenient.push_file(
        branch="later", base="main", path=APP, content="v3\n", message="m", reset=False
    )
    later = h.lenient.create_pr(head="later", base="main", title="l", body="", labels=())
    h.lenient.merge_pr(number=later.number, message="merge later")
    with pytest.raises(RevertConflictError, match=APP):
        h.forge.revert_merge(sha=merge_sha, branch="revert", base="main", message="Revert\n")
    with pytest.raises(ForgeNotFoundError):
        h.forge.revert_merge(sha=merge_sha, branch="revert", base="nope", message="Revert\n")


def test_team_members_are_known_or_unknown_never_guessed(h: Harness) -> None:
    assert h.forge.team_members(team="acme/release") is None
    h.add_team("acme/release", ["carol", REVIEWER])
    assert h.forge.team_members(team="acme/release") == [REVIEWER, "carol"]
    assert h.forge.team_members(team="@acme/release") == [REVIEWER, "carol"]


def test_conflicting_pull_requests_are_refused(h: Harness) -> None:
    first = open_pr(h.lenient, branch="a", content="from a\n")
    second = open_pr(h.lenient, branch="b", content="from b\n")
    h.lenient.merge_pr(number=first, message="merge a")
    with pytest.raises(MergeBlockedError):
        h.lenient.merge_pr(number=second, message="merge b")
    assert h.lenient.get_pr(number=second).state == "open"
    assert h.lenient.read_file(path=APP, ref="main") == "from a\n"


def test_who_may_approve_differs_between_the_forges(h: Harness) -> None:
    number = open_pr(h.forge)
    if h.kind == "github":
        with pytest.raises(ForgeError, match="own pull request"):
            h.forge.approve_pr(number=number)
        with pytest.raises(ForgeError, match="token's user"):
            h.reviewer.approve_pr(number=number, reviewer="mallory")
        assert h.forge.list_reviews(number=number) == []
    else:
        review = h.forge.approve_pr(number=number, reviewer="slipway")
        assert review.reviewer == "slipway", "the local forge has no identities to check"


def test_merging_without_approval_where_the_forge_allows_it(h: Harness) -> None:
    number = open_pr(h.lenient)
    sha = h.lenient.merge_pr(number=number, message="merge")
    assert h.lenient.get_pr(number=number).merge_sha == sha


# -- each role ------------------------------------------------------------------------


def test_every_role_protocol_is_satisfied(h: Harness) -> None:
    roles = (Files, Trees, PullRequests, Reviews, Comments, Statuses, Issues, Deployments, Teams)
    for role in (*roles, Forge):
        assert isinstance(h.forge, role), role.__name__
    assert h.forge.name == h.kind


def test_push_file_commits_once_and_reset_starts_over_from_the_base(h: Harness) -> None:
    f = h.forge
    main = f.branch_sha(branch="main")
    first = f.push_file(
        branch="feature", base="main", path=APP, content="v2\n", message="m", reset=False
    )
    assert (first.changed, first.created_branch) == (True, True)
    assert f.branch_sha(branch="feature") == first.sha != main
    assert f.read_file(path=APP, ref="feature") == "v2\n"
    assert f.read_file(path=APP, ref=first.sha) == "v2\n"
    assert f.read_file(path=APP, ref="main") == "v1\n"
    again = f.push_file(
        branch="feature", base="main", path=APP, content="v2\n", message="m", reset=False
    )
    assert (again.changed, again.created_branch, again.sha) == (False, False, first.sha)
    new_file = f.push_file(
        branch="feature", base="main", path="docs/new.md", content="n\n", message="m", reset=False
    )
    assert new_file.changed
    assert f.read_file(path=APP, ref="feature") == "v2\n", "committed on top of the branch"
    reset = f.push_file(
        branch="feature", base="main", path="README.md", content="hi\n", message="m", reset=True
    )
    assert (reset.changed, reset.created_branch) == (True, True)
    assert f.read_file(path=APP, ref="feature") == "v1\n", "the branch started over from main"
    assert f.read_file(path="docs/new.md", ref="feature") is None


def test_one_open_pull_request_per_head_is_adopted_never_duplicated(h: Harness) -> None:
    number = open_pr(h.forge)
    pr = h.forge.get_pr(number=number)
    assert (pr.head, pr.base, pr.state, pr.title) == ("feature", "main", "open", "Edit")
    assert pr.labels == ("x",)
    assert pr.head_sha == h.forge.branch_sha(branch="feature")
    again = h.forge.create_pr(head="feature", base="main", title="Other", body="", labels=())
    assert again.number == number
    assert [p.number for p in h.forge.list_prs()] == [number]
    assert h.forge.find_open_pr(head="feature").number == number  # type: ignore[union-attr]
    assert h.forge.find_open_pr(head="feature", base="main").number == number  # type: ignore[union-attr]
    assert h.forge.find_open_pr(head="feature", base="other") is None
    assert h.forge.find_open_pr(head="nope") is None


def test_update_pr_changes_only_what_it_names(h: Harness) -> None:
    number = open_pr(h.forge, body="old body")
    h.forge.update_pr(number=number, edit=PrEdit(body="new body"))
    pr = h.forge.get_pr(number=number)
    assert (pr.title, pr.body, pr.labels) == ("Edit", "new body", ("x",))
    h.forge.update_pr(number=number, edit=PrEdit(title="T2", labels=("x", "env:dev")))
    pr = h.forge.get_pr(number=number)
    assert (pr.title, pr.body, pr.labels) == ("T2", "new body", ("x", "env:dev"))
    assert [p.number for p in h.forge.list_prs(state="open")] == [number]
    assert h.forge.list_prs(state="closed") == h.forge.list_prs(state="merged") == []


def test_comments_are_listed_oldest_first_edited_and_deleted(h: Harness) -> None:
    number = open_pr(h.forge)
    one = h.forge.create_comment(number=number, body="one")
    two = h.forge.create_comment(number=number, body="two")
    assert one.author
    edited = h.forge.edit_comment(number=number, comment_id=one.id, body="one, edited")
    assert (edited.id, edited.body) == (one.id, "one, edited")
    listed = h.forge.list_comments(number=number)
    assert [(c.id, c.body) for c in listed] == [(one.id, "one, edited"), (two.id, "two")]
    h.forge.delete_comment(number=number, comment_id=one.id)
    h.forge.delete_comment(number=number, comment_id=one.id)
    assert [c.id for c in h.forge.list_comments(number=number)] == [two.id]


def test_sticky_comment_is_created_once_then_edited_in_place(h: Harness) -> None:
    number = open_pr(h.forge)
    h.forge.create_comment(number=number, body="a human comment")
    first = upsert_sticky(h.forge, number=number, key="plan:dev", body="v1\n", digest="d1d1d1d1")
    assert first.created
    assert not first.edited
    again = upsert_sticky(
        h.forge, number=number, key="plan:dev", body="v1 later\n", digest="d1d1d1d1"
    )
    assert not again.changed, "same digest: nothing is sent"
    edited = upsert_sticky(h.forge, number=number, key="plan:dev", body="v2\n", digest="d2d2d2d2")
    assert edited.edited == first.created
    assert not edited.created
    bodies = [c.body for c in h.forge.list_comments(number=number)]
    assert len(bodies) == 2
    assert bodies[0] == "a human comment"
    assert bodies[1].startswith(marker("plan:dev"))
    assert "v2" in bodies[1]


def test_sticky_grows_into_parts_and_shrinks_back(h: Harness) -> None:
    number = open_pr(h.forge)
    long_body = "".join(f"line {i} {'z' * 50}\n" for i in range(100))
    grown = upsert_sticky(
        h.forge, number=number, key="plan:dev", body=long_body, digest="aaaa1111", limit=1000
    )
    assert len(grown.comments) > 3
    assert len(grown.created) == len(grown.comments)
    shrunk = upsert_sticky(
        h.forge, number=number, key="plan:dev", body="short\n", digest="bbbb2222", limit=1000
    )
    assert len(shrunk.comments) == 1
    assert shrunk.edited == [grown.comments[0].id]
    assert sorted(shrunk.deleted) == sorted(c.id for c in grown.comments[1:])
    assert [c.id for c in h.forge.list_comments(number=number)] == [grown.comments[0].id]


def test_duplicate_sticky_comments_are_cleaned_up(h: Harness) -> None:
    number = open_pr(h.forge)
    for _ in range(2):
        h.forge.create_comment(number=number, body=marker("plan:dev") + "\nold")
    result = upsert_sticky(h.forge, number=number, key="plan:dev", body="new\n", digest="cccc3333")
    assert len(result.deleted) == 1
    assert len(result.edited) == 1
    assert len(h.forge.list_comments(number=number)) == 1


def test_statuses_keep_the_latest_per_context(h: Harness) -> None:
    sha = h.forge.branch_sha(branch="main")
    assert sha is not None
    assert h.forge.list_statuses(sha=sha) == []
    long = h.forge.set_status(sha=sha, status=CommitStatus("a", "pending", "x" * 200))
    assert len(long.description) <= 140
    h.forge.set_status(sha=sha, status=CommitStatus("a", "success", "done", "https://ci/1"))
    h.forge.set_status(sha=sha, status=CommitStatus("b", "failure", "no"))
    assert sorted(h.forge.list_statuses(sha=sha), key=lambda s: s.context) == [
        CommitStatus("a", "success", "done", "https://ci/1"),
        CommitStatus("b", "failure", "no", None),
    ]


def test_reviews_bind_to_the_head_and_approving_again_adds_none(h: Harness) -> None:
    number = open_pr(h.forge)
    assert h.forge.list_reviews(number=number) == []
    head = h.forge.get_pr(number=number).head_sha
    review = h.reviewer.approve_pr(number=number, reviewer=REVIEWER)
    assert (review.reviewer, review.sha, review.state) == (REVIEWER, head, "approved")
    assert h.reviewer.approve_pr(number=number, reviewer=REVIEWER) == review
    assert h.forge.list_reviews(number=number) == [review]
    assert approvals(h.forge, number, head) == [REVIEWER]


def test_issues_share_numbers_with_pull_requests_and_are_found_by_marker(h: Harness) -> None:
    tag = marker("drift")
    pr_number = open_pr(h.forge, body=f"{tag}\na pull request", labels=("slipway:drift",))
    issue = h.forge.create_issue(title="Drift", body=f"{tag}\ntable", labels=("slipway:drift",))
    assert issue.number == pr_number + 1, "issues and pull requests share numbers"
    assert (issue.title, issue.state, issue.labels) == ("Drift", "open", ("slipway:drift",))
    assert h.forge.find_issue(marker=tag, label="slipway:drift") == issue, "never the PR"
    assert h.forge.find_issue(marker=tag, label="other") is None
    assert h.forge.find_issue(marker=marker("nope"), label="slipway:drift") is None
    assert [i.number for i in h.forge.list_issues()] == [issue.number]
    renamed = h.forge.update_issue(number=issue.number, edit=IssueEdit(title="Drift in dev"))
    assert (renamed.title, renamed.body) == ("Drift in dev", issue.body)
    h.forge.create_comment(number=issue.number, body="closing")
    closed = h.forge.update_issue(number=issue.number, edit=IssueEdit(state="closed"))
    assert closed.state == "closed"
    assert h.forge.find_issue(marker=tag, label="slipway:drift") is None
    assert [i.number for i in h.forge.list_issues(state="closed")] == [issue.number]
    assert h.forge.list_issues(state="open") == []


def test_rerunning_the_drift_check_keeps_one_issue(h: Harness) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    drifted = [EnvStatus(env="dev", desired_ref="driver_ranking:1", drift=["nothing serves"])]
    opened = drift_issue(forge=h.forge, statuses=drifted, now=now)
    again = drift_issue(forge=h.forge, statuses=drifted, now=now)
    assert (opened.action, again.action) == ("opened", "unchanged")
    assert [i.number for i in h.forge.list_issues()] == [opened.issue.number]  # type: ignore[union-attr]


def test_deployments_are_listed_newest_first_with_statuses_oldest_first(h: Harness) -> None:
    sha = h.forge.branch_sha(branch="main")
    assert sha is not None
    first = h.forge.create_deployment(sha=sha, environment="dev", description="d", payload={"k": 1})
    second = h.forge.create_deployment(
        sha=sha, environment="dev", description="d2", payload={"k": 2}
    )
    h.forge.create_deployment(sha=sha, environment="prod", description="p", payload={})
    listed = h.forge.list_deployments(sha=sha, environment="dev")
    assert [d.id for d in listed] == [second.id, first.id]
    assert (listed[1].sha, listed[1].environment, dict(listed[1].payload)) == (sha, "dev", {"k": 1})
    assert h.forge.list_deployments(sha="0" * 40, environment="dev") == []
    assert h.forge.list_deployment_statuses(deployment_id=first.id) == []
    h.forge.create_deployment_status(
        deployment_id=first.id, status=DeploymentStatus("in_progress", "go " * 100)
    )
    h.forge.create_deployment_status(
        deployment_id=first.id, status=DeploymentStatus("success", "ok", "https://log/1")
    )
    statuses = h.forge.list_deployment_statuses(deployment_id=first.id)
    assert [(s.state, s.log_url) for s in statuses] == [
        ("in_progress", None),
        ("success", "https://log/1"),
    ]
    assert len(statuses[0].description) <= 140
    assert h.forge.list_deployment_statuses(deployment_id=second.id) == []
