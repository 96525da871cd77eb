"""The local forge's pull requests, reviews and merges (JSON records plus ``git merge``).

A pull request is a branch and a record. Approvals bind to the exact head commit: pushing to
the branch leaves them on the old commit. Merging needs an approval of the current head
(unless ``require_approval=False``) and no failing commit status on it, and is a real
``git merge --no-ff`` of that commit into the base branch.
"""

from __future__ import annotations

import getpass
from typing import Any

from ci.errors import ForgeError, ForgeNotFoundError, MergeBlockedError
from ci.forge.local.base import LocalBase
from ci.forge.local.store import ApprovalRecord, PrRecord
from ci.forge.records import PrEdit, PrState, PullRequest, Review


class LocalPulls(LocalBase):
    """Pull requests, approvals and merges of the local forge."""

    def find_open_pr(self, *, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request from ``head``."""
        for record in self.store.prs():
            if record.state == "open" and record.head == head and base in (None, record.base):
                return self._pr(record)
        return None

    def list_prs(self, *, state: PrState | None = None) -> list[PullRequest]:
        """Pull requests by number, optionally only those in ``state``."""
        return [self._pr(r) for r in self.store.prs() if state in (None, r.state)]

    def get_pr(self, *, number: int) -> PullRequest:
        """One pull request."""
        return self._pr(self._pr_record(number))

    def create_pr(
        self, *, head: str, base: str, title: str, body: str, labels: tuple[str, ...]
    ) -> PullRequest:
        """Open a pull request (adopts the open one from the same head, never a duplicate)."""
        if head == base:
            raise ForgeError(f"a pull request needs two branches; head and base are both {head}")
        for branch in (head, base):
            if self.branch_sha(branch=branch) is None:
                raise ForgeNotFoundError(f"branch {branch} does not exist in {self.where}")
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

    def update_pr(self, *, number: int, edit: PrEdit) -> PullRequest:
        """Edit a pull request."""
        with self.store.locked():
            record = self._pr_record(number)
            changes: dict[str, Any] = {"updated_at": self.clock()}
            if edit.title is not None:
                changes["title"] = edit.title
            if edit.body is not None:
                changes["body"] = edit.body
            if edit.labels is not None:
                changes["labels"] = list(edit.labels)
            record = record.model_copy(update=changes)
            self.store.save_pr(record)
        return self._pr(record)

    def list_reviews(self, *, number: int) -> list[Review]:
        """Approvals recorded on a pull request (any head), oldest first."""
        return [
            Review(reviewer=a.reviewer, sha=a.sha, state="approved")
            for a in self._pr_record(number).approvals
        ]

    def approve_pr(self, *, number: int, reviewer: str | None = None) -> Review:
        """Approve the current head of an open pull request (default reviewer: this user)."""
        who = reviewer or getpass.getuser()
        with self.store.locked():
            record = self._pr_record(number)
            if record.state != "open":
                raise ForgeError(f"pull request #{number} is {record.state}; nothing to approve")
            sha = self._head_sha(record)
            if not any(a.reviewer == who and a.sha == sha for a in record.approvals):
                approval = ApprovalRecord(reviewer=who, sha=sha, at=self.clock())
                record = record.model_copy(update={"approvals": [*record.approvals, approval]})
                self.store.save_pr(record)
        return Review(reviewer=who, sha=sha, state="approved")

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
