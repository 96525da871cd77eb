"""The local forge: git plumbing that leaves the work tree alone, records, approvals, merges."""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_support import git

from ci.errors import ForgeError, ForgeNotFoundError, GitError, MergeBlockedError
from ci.forge.local import LocalForge
from ci.forge.protocol import Forge

PATH = "model_deploy/environments/dev.yaml"


def open_pr(forge: LocalForge, content: str = "changed\n") -> int:
    forge.push_file(
        branch="feature", base="main", path=PATH, content=content, message="edit", reset=False
    )
    return forge.create_pr(
        head="feature", base="main", title="Edit", body="b", labels=("x",)
    ).number


def test_it_satisfies_the_protocol(repo: Path) -> None:
    assert isinstance(LocalForge(repo=repo), Forge)


def test_push_file_commits_without_touching_the_work_tree(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    before = (repo / PATH).read_text()
    commit = forge.push_file(
        branch="b", base="main", path=PATH, content="new\n", message="m\n\nbody", reset=False
    )
    assert commit.changed
    assert commit.created_branch
    assert forge.read_file(path=PATH, ref="b") == "new\n"
    assert (repo / PATH).read_text() == before
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(repo, "log", "-1", "--format=%s", "b") == "m"
    again = forge.push_file(
        branch="b", base="main", path=PATH, content="new\n", message="m", reset=False
    )
    assert not again.changed
    assert again.sha == commit.sha
    reset = forge.push_file(
        branch="b", base="main", path=PATH, content="other\n", message="m2", reset=True
    )
    assert git(repo, "rev-parse", f"{reset.sha}^") == git(repo, "rev-parse", "main")


def test_missing_things_read_as_none_or_not_found(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    assert forge.read_file(path="nope.yaml", ref="main") is None
    assert forge.read_file(path=PATH, ref="no-such-branch") is None
    assert forge.branch_sha(branch="nope") is None
    with pytest.raises(ForgeNotFoundError):
        forge.get_pr(number=7)
    with pytest.raises(ForgeNotFoundError):
        forge.push_file(branch="b", base="nope", path=PATH, content="x", message="m", reset=False)


def test_one_open_pr_per_head(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    number = open_pr(forge)
    again = forge.create_pr(head="feature", base="main", title="Other", body="", labels=())
    assert again.number == number
    assert len(forge.list_prs()) == 1
    assert forge.find_open_pr(head="feature").number == number  # type: ignore[union-attr]
    with pytest.raises(ForgeError, match="two branches"):
        forge.create_pr(head="main", base="main", title="t", body="", labels=())


def test_merge_needs_an_approval_of_the_current_head(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    number = open_pr(forge)
    with pytest.raises(MergeBlockedError, match="not approved"):
        forge.merge_pr(number=number, message="merge")
    forge.approve_pr(number=number, reviewer="alice")
    forge.push_file(
        branch="feature",
        base="main",
        path=PATH,
        content="changed again\n",
        message="push",
        reset=False,
    )
    with pytest.raises(MergeBlockedError, match="not approved for its head"):
        forge.merge_pr(number=number, message="merge")
    forge.approve_pr(number=number, reviewer="alice")
    head = forge.get_pr(number=number).head_sha
    forge.set_status(sha=head, context="slipway/policy", state="failure", description="blocked")
    with pytest.raises(MergeBlockedError, match="slipway/policy"):
        forge.merge_pr(number=number, message="merge")
    forge.set_status(sha=head, context="slipway/policy", state="success", description="ok")
    merge_sha = forge.merge_pr(number=number, message="Merge #1\n")
    assert git(repo, "rev-parse", "main") == merge_sha
    assert git(repo, "rev-list", "--parents", "-n1", "main").split()[1:] == [
        git(repo, "rev-parse", "HEAD^1"),
        head,
    ]
    assert (repo / PATH).read_text() == "changed again\n", "main is checked out: its tree follows"
    pr = forge.get_pr(number=number)
    assert pr.state == "merged"
    assert pr.merge_sha == merge_sha
    assert pr.head_sha == head
    with pytest.raises(MergeBlockedError, match="merged"):
        forge.merge_pr(number=number, message="again")


def test_merge_into_a_branch_not_checked_out_uses_a_scratch_worktree(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "elsewhere")
    forge = LocalForge(repo=repo, require_approval=False)
    number = open_pr(forge)
    sha = forge.merge_pr(number=number, message="merge")
    assert git(repo, "rev-parse", "main") == sha
    assert git(repo, "worktree", "list").count("\n") == 0, "the scratch worktree is gone"


def test_dirty_checkout_blocks_the_merge(repo: Path) -> None:
    forge = LocalForge(repo=repo, require_approval=False)
    number = open_pr(forge)
    (repo / PATH).write_text("local edit\n")
    with pytest.raises(MergeBlockedError, match="uncommitted changes"):
        forge.merge_pr(number=number, message="merge")


def test_conflicting_merge_is_aborted(repo: Path) -> None:
    forge = LocalForge(repo=repo, require_approval=False)
    number = open_pr(forge, content="theirs\n")
    (repo / PATH).write_text("ours\n")
    git(repo, "commit", "-qam", "ours")
    with pytest.raises(MergeBlockedError, match="conflicts"):
        forge.merge_pr(number=number, message="merge")
    assert git(repo, "status", "--porcelain") == ""
    assert forge.get_pr(number=number).state == "open"


def test_moving_a_checked_out_branch_is_refused(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    with pytest.raises(GitError, match="checked out"):
        forge.push_file(
            branch="main", base="main", path=PATH, content="x\n", message="m", reset=False
        )


def test_comments_statuses_deployments_and_issues(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    number = open_pr(forge)
    comment = forge.create_comment(number=number, body="one")
    forge.edit_comment(number=number, comment_id=comment.id, body="two")
    assert [c.body for c in forge.list_comments(number=number)] == ["two"]
    forge.delete_comment(number=number, comment_id=comment.id)
    forge.delete_comment(number=number, comment_id=comment.id)
    assert forge.list_comments(number=number) == []
    with pytest.raises(ForgeNotFoundError):
        forge.edit_comment(number=number, comment_id=999, body="x")
    sha = forge.get_pr(number=number).head_sha
    forge.set_status(sha=sha, context="a", state="pending", description="x" * 200)
    forge.set_status(sha=sha, context="a", state="success", description="done")
    assert [(s.context, s.state) for s in forge.list_statuses(sha=sha)] == [("a", "success")]
    deployment = forge.create_deployment(
        sha=sha, environment="dev", description="d", payload={"k": 1}
    )
    forge.create_deployment_status(
        deployment_id=deployment.id, state="in_progress", description="go"
    )
    forge.create_deployment_status(
        deployment_id=deployment.id, state="success", description="ok", log_url="http://log"
    )
    assert [s.state for s in forge.list_deployment_statuses(deployment_id=deployment.id)] == [
        "in_progress",
        "success",
    ]
    assert forge.list_deployments(sha=sha, environment="dev")[0].payload == {"k": 1}
    issue = forge.create_issue(title="t", body="<!-- m -->", labels=("slipway:drift",))
    assert issue.number == number + 1, "issues and pull requests share numbers"
    assert forge.find_issue(marker="<!-- m -->", label="slipway:drift") == issue
    forge.create_comment(number=issue.number, body="closing")
    forge.update_issue(number=issue.number, state="closed")
    assert forge.find_issue(marker="<!-- m -->", label="slipway:drift") is None
    assert forge.list_issues(state="closed")[0].number == issue.number


def test_records_live_in_the_git_dir_or_a_given_folder(repo: Path, tmp_path: Path) -> None:
    open_pr(LocalForge(repo=repo))
    assert (repo / ".git" / "slipway" / "prs" / "1.json").is_file()
    elsewhere = LocalForge(repo=repo, state_dir=tmp_path / "state")
    assert elsewhere.list_prs() == []
