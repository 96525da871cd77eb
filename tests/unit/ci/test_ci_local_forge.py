"""What only the local forge does: git plumbing that leaves the work tree alone, real merges.

The protocol behaviour both forges share is in ``tests/contract/test_forge_contract.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_support import git

from ci.errors import GitError, MergeBlockedError
from ci.forge.local import LocalForge
from ci.forge.records import UNPROTECTED, CommitStatus

PATH = "model_deploy/environments/dev/driver_ranking.yaml"


def open_pr(forge: LocalForge, content: str = "changed\n") -> int:
    forge.push_file(
        branch="feature", base="main", path=PATH, content=content, message="edit", reset=False
    )
    return forge.create_pr(
        head="feature", base="main", title="Edit", body="b", labels=("x",)
    ).number


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


def test_merge_is_a_real_no_ff_merge_of_the_approved_head(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    number = open_pr(forge)
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
    forge.set_status(sha=head, status=CommitStatus("slipway/plan", "success", "planned"))
    forge.set_status(sha=head, status=CommitStatus("slipway/policy", "failure", "blocked"))
    with pytest.raises(MergeBlockedError, match=r"slipway/policy is failure on \w+: blocked"):
        forge.merge_pr(number=number, message="merge")
    forge.set_status(sha=head, status=CommitStatus("slipway/policy", "success", "ok"))
    merge_sha = forge.merge_pr(number=number, message="Merge #1\n")
    assert git(repo, "rev-parse", "main") == merge_sha
    assert git(repo, "rev-list", "--parents", "-n1", "main").split()[1:] == [
        git(repo, "rev-parse", "HEAD^1"),
        head,
    ]
    assert (repo / PATH).read_text() == "changed again\n", "main is checked out: its tree follows"
    with pytest.raises(MergeBlockedError, match="merged"):
        forge.merge_pr(number=number, message="again")


def test_fault7_a_refused_merge_names_every_rule_it_fails(repo: Path) -> None:
    forge = LocalForge(repo=repo)
    number = open_pr(forge)
    with pytest.raises(MergeBlockedError) as refused:
        forge.merge_pr(number=number, message="merge")
    text = str(refused.value)
    assert "not approved for its head" in text
    assert "required status slipway/plan is expected" in text
    assert "required status slipway/policy is expected" in text
    assert "never planned; run `slipway ci comment-plan --pr 1`" in text
    (repo / "other.txt").write_text("moved on\n")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-qm", "main moves on")
    forge.approve_pr(number=number, reviewer="alice")
    head = forge.get_pr(number=number).head_sha
    for context in ("slipway/plan", "slipway/policy"):
        forge.set_status(sha=head, status=CommitStatus(context, "success", "planned"))
    with pytest.raises(MergeBlockedError, match="branch feature is behind main") as behind:
        forge.merge_pr(number=number, message="merge")
    assert "not approved" not in str(behind.value)


def test_merge_into_a_branch_not_checked_out_uses_a_scratch_worktree(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "elsewhere")
    forge = LocalForge(repo=repo, protection=UNPROTECTED)
    number = open_pr(forge)
    sha = forge.merge_pr(number=number, message="merge")
    assert git(repo, "rev-parse", "main") == sha
    assert git(repo, "worktree", "list").count("\n") == 0, "the scratch worktree is gone"


def test_dirty_checkout_blocks_the_merge(repo: Path) -> None:
    forge = LocalForge(repo=repo, protection=UNPROTECTED)
    number = open_pr(forge)
    (repo / PATH).write_text("local edit\n")
    with pytest.raises(MergeBlockedError, match="uncommitted changes"):
        forge.merge_pr(number=number, message="merge")


def test_conflicting_merge_is_aborted(repo: Path) -> None:
    forge = LocalForge(repo=repo, protection=UNPROTECTED)
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


def test_records_live_in_the_git_dir_or_a_given_folder(repo: Path, tmp_path: Path) -> None:
    open_pr(LocalForge(repo=repo))
    assert (repo / ".git" / "slipway" / "prs" / "1.json").is_file()
    elsewhere = LocalForge(repo=repo, state_dir=tmp_path / "state")
    assert elsewhere.list_prs() == []


def test_teams_are_set_and_shown_from_the_command_line(repo: Path) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from slipway.cli.pr import pr_app

    app = typer.Typer()
    app.add_typer(pr_app, name="pr")
    runner = CliRunner()
    unknown = runner.invoke(app, ["pr", "team", "acme/ml", "--repo-dir", str(repo), "-f", "json"])
    assert unknown.exit_code == 0, unknown.output
    assert json.loads(unknown.output) == {"team": "acme/ml", "members": None}
    runner.invoke(app, ["pr", "team", "@acme/ml", "carol", "alice", "--repo-dir", str(repo)])
    shown = runner.invoke(app, ["pr", "team", "acme/ml", "--repo-dir", str(repo)])
    assert shown.output.strip() == "acme/ml: alice, carol"
    assert LocalForge(repo=repo).team_members(team="acme/ml") == ["alice", "carol"]
