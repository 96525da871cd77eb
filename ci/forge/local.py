"""The local forge (the embedded default): plain git in a folder plus JSON pull request records.

A pull request is a branch and a record (:mod:`ci.forge.local_store`). Approvals bind to the
exact head commit: pushing to the branch dismisses them. Merging needs an approval of the
current head (unless ``require_approval=False``) and no failing commit status on it, and is a
real ``git merge --no-ff`` of that commit into the base branch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci.errors import ForgeError, ForgeNotFoundError, MergeBlockedError
from ci.forge.local_git import Git
from ci.forge.local_records import LocalRecords
from ci.forge.local_store import ApprovalRecord, PrRecord
from ci.forge.protocol import FileCommit, PullRequest


class LocalForge(LocalRecords):
    """A git repository on this machine as a forge.

    Args:
        repo: A folder of the git work tree.
        state_dir: Where records live (default ``<git dir>/slipway``).
        require_approval: Whether merging needs an approval of the current head.
        clock: Current time (time-zone aware).
    """

    name = "local"

    def __init__(
        self,
        *,
        repo: Path,
        state_dir: Path | None = None,
        require_approval: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.git = Git(repo)
        super().__init__(root=lambda: state_dir or self.git.git_dir() / "slipway", clock=clock)
        self.require_approval = require_approval

    def __repr__(self) -> str:
        return f"LocalForge(repo={str(self.git.work_tree)!r})"

    # -- files and branches -------------------------------------------------------------

    def read_file(self, *, path: str, ref: str) -> str | None:
        """Text of ``path`` at ``ref``, or None."""
        return self.git.show(ref=ref, path=path)

    def branch_sha(self, *, branch: str) -> str | None:
        """Head commit of ``branch``, or None."""
        return self.git.rev_parse(f"refs/heads/{branch}")

    def push_file(
        self, *, branch: str, base: str, path: str, content: str, message: str, reset: bool
    ) -> FileCommit:
        """Commit one file to ``branch`` with git plumbing (the work tree is not touched)."""
        base_sha = self.branch_sha(branch=base)
        if base_sha is None:
            raise ForgeNotFoundError(f"base branch {base} does not exist in {self.git.work_tree}")
        head = self.branch_sha(branch=branch)
        created = False
        if head is None or (reset and head != base_sha):
            self.git.update_ref(branch=branch, new=base_sha, old=head)
            head, created = base_sha, True
        if self.git.show(ref=head, path=path) == content:
            return FileCommit(branch=branch, sha=head, changed=False, created_branch=created)
        sha = self.git.commit_file(parent=head, path=path, content=content, message=message)
        self.git.update_ref(branch=branch, new=sha, old=head)
        return FileCommit(branch=branch, sha=sha, changed=True, created_branch=created)

    # -- pull requests ------------------------------------------------------------------

    def find_open_pr(self, *, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request from ``head``."""
        for record in self.store.prs():
            if record.state == "open" and record.head == head and base in (None, record.base):
                return self._pr(record)
        return None

    def list_prs(self, *, state: str | None = None) -> list[PullRequest]:
        """Pull requests, optionally only ``open``, ``closed`` or ``merged`` ones."""
        return [self._pr(r) for r in self.store.prs() if state in (None, r.state)]

    def create_pr(
        self, *, head: str, base: str, title: str, body: str, labels: tuple[str, ...]
    ) -> PullRequest:
        """Open a pull request (adopts the open one from the same head, never a duplicate)."""
        if head == base:
            raise ForgeError(f"a pull request needs two branches; head and base are both {head}")
        for branch in (head, base):
            if self.branch_sha(branch=branch) is None:
                raise ForgeNotFoundError(f"branch {branch} does not exist in {self.git.work_tree}")
        with self.store.locked():
            existing = self.find_open_pr(head=head, base=base)
            if existing is not None:
                return existing
            now = self.clock()
            record = PrRecord(
                number=self.store.next_id("number"),
                title=title,
                body=body,
                labels=list(labels),
                head=head,
                base=base,
                created_at=now,
                updated_at=now,
            )
            self.store.save_pr(record)
        return self._pr(record)

    def update_pr(
        self,
        *,
        number: int,
        title: str | None = None,
        body: str | None = None,
        labels: tuple[str, ...] | None = None,
    ) -> PullRequest:
        """Edit a pull request."""
        with self.store.locked():
            record = self._pr_record(number)
            changes: dict[str, Any] = {"updated_at": self.clock()}
            if title is not None:
                changes["title"] = title
            if body is not None:
                changes["body"] = body
            if labels is not None:
                changes["labels"] = list(labels)
            record = record.model_copy(update=changes)
            self.store.save_pr(record)
        return self._pr(record)

    def get_pr(self, *, number: int) -> PullRequest:
        """One pull request."""
        return self._pr(self._pr_record(number))

    def approvals(self, *, number: int) -> list[ApprovalRecord]:
        """Approvals recorded on a pull request (any head)."""
        return list(self._pr_record(number).approvals)

    def approve_pr(self, *, number: int, reviewer: str) -> PullRequest:
        """Approve the current head commit of an open pull request."""
        with self.store.locked():
            record = self._pr_record(number)
            if record.state != "open":
                raise ForgeError(f"pull request #{number} is {record.state}; nothing to approve")
            sha = self._head_sha(record)
            if not any(a.reviewer == reviewer and a.sha == sha for a in record.approvals):
                approval = ApprovalRecord(reviewer=reviewer, sha=sha, at=self.clock())
                record = record.model_copy(update={"approvals": [*record.approvals, approval]})
                self.store.save_pr(record)
        return self._pr(record)

    def merge_pr(self, *, number: int, message: str) -> str:
        """Merge the approved head with ``git merge --no-ff``; returns the merge commit."""
        with self.store.locked():
            record = self._pr_record(number)
            if record.state != "open":
                raise MergeBlockedError(f"pull request #{number} is {record.state}")
            sha = self._head_sha(record)
            if self.require_approval and not any(a.sha == sha for a in record.approvals):
                raise MergeBlockedError(
                    f"pull request #{number} is not approved for its head {sha[:12]}; approve it "
                    f"with `slipway ci pr approve {number}`"
                )
            failing = [
                f"{s.context} ({s.state})"
                for s in self.store.statuses(sha).values()
                if s.state in ("failure", "error")
            ]
            if failing:
                raise MergeBlockedError(
                    f"pull request #{number} has failing statuses on {sha[:12]}: "
                    + ", ".join(sorted(failing))
                )
            merge_sha = self.git.merge_no_ff(base=record.base, commit=sha, message=message)
            record = record.model_copy(
                update={
                    "state": "merged",
                    "head_sha": sha,
                    "merge_sha": merge_sha,
                    "updated_at": self.clock(),
                }
            )
            self.store.save_pr(record)
        return merge_sha

    # -- helpers ------------------------------------------------------------------------

    def _pr_record(self, number: int) -> PrRecord:
        record = self.store.pr(number)
        if record is None:
            raise ForgeNotFoundError(f"pull request #{number} does not exist")
        return record

    def _head_sha(self, record: PrRecord) -> str:
        if record.state != "open" and record.head_sha:
            return record.head_sha
        sha = self.branch_sha(branch=record.head)
        if sha is None:
            raise ForgeNotFoundError(
                f"branch {record.head} of pull request #{record.number} is gone"
            )
        return sha

    def _pr(self, record: PrRecord) -> PullRequest:
        try:
            sha = self._head_sha(record)
        except ForgeNotFoundError:
            sha = record.head_sha or ""
        return PullRequest(
            number=record.number,
            title=record.title,
            body=record.body,
            head=record.head,
            base=record.base,
            head_sha=sha,
            state=record.state,
            url=f"local:pr/{record.number}",
            labels=tuple(record.labels),
            merge_sha=record.merge_sha,
        )
