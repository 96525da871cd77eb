"""The local forge's pull requests, reviews and merges (JSON records plus ``git merge``).

A pull request is a branch and a record. Approvals bind to the exact head commit: pushing to
the branch leaves them on the old commit. Merging applies the forge's
:class:`~ci.forge.records.BranchProtection` like GitHub's branch protection (an approval
given after the last push, the required statuses successful on the current head, a branch
up to date with its base; any failing status blocks too) and is a real ``git merge --no-ff``
of that commit into the base branch. A refused merge names every rule it fails and why.
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
        """Merge the current head with ``git merge --no-ff``; returns the merge commit.

        Raises:
            MergeBlockedError: Not open, or a protection rule is not met: every rule that
                fails is named with its reason (a status's own description included).
        """
        with self.store.locked():
            record = self._pr_record(number)
            if record.state != "open":
                raise MergeBlockedError(f"pull request #{number} is {record.state}")
            sha = self._head_sha(record)
            problems = self.merge_problems(record, sha)
            if problems:
                raise MergeBlockedError(
                    f"pull request #{number} cannot merge: " + "; ".join(problems)
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

    def merge_problems(self, record: PrRecord, sha: str) -> list[str]:
        """Every protection rule the head ``sha`` of ``record`` fails, one sentence each."""
        rules = self.protection
        number = record.number
        problems: list[str] = []
        if rules.require_approval and not any(a.sha == sha for a in record.approvals):
            older = " (approvals of earlier heads do not count)" if record.approvals else ""
            problems.append(
                f"it is not approved for its head {sha[:12]}{older}; approve it with "
                f"`slipway ci pr approve {number}`"
            )
        statuses = self.store.statuses(sha)
        for context in rules.required_contexts:
            status = statuses.get(context)
            if status is None:
                problems.append(
                    f"required status {context} is expected on the head {sha[:12]}, which was "
                    f"never planned; run `slipway ci comment-plan --pr {number}`"
                )
            elif status.state != "success":
                problems.append(
                    f"required status {context} is {status.state} on {sha[:12]}: "
                    f"{status.description}"
                )
        failing = [
            f"{s.context} is {s.state}: {s.description}"
            for s in statuses.values()
            if s.state in ("failure", "error") and s.context not in rules.required_contexts
        ]
        if failing:
            problems.append(f"failing statuses on {sha[:12]}: " + "; ".join(sorted(failing)))
        if rules.strict:
            base_sha = self.branch_sha(branch=record.base)
            if base_sha is not None and not self.git.is_ancestor(base_sha, sha):
                problems.append(
                    f"branch {record.head} is behind {record.base} (at {base_sha[:12]}, which "
                    f"the head {sha[:12]} does not contain); merge {record.base} into it, then "
                    "plan it again"
                )
        return problems

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
