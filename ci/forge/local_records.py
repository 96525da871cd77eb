"""The local forge's comments, commit statuses, deployments and issues (JSON records).

:class:`LocalRecords` is the half of :class:`~ci.forge.local.LocalForge` that needs no git:
everything is read and written through :class:`~ci.forge.local_store.LocalStore` under its
lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ci.errors import ForgeNotFoundError
from ci.forge.local_store import (
    CommentRecord,
    DeploymentRecord,
    DeploymentStatusRecord,
    IssueRecord,
    LocalStore,
    PrRecord,
    StatusRecord,
    ThreadRecord,
)
from ci.forge.protocol import (
    Comment,
    CommitState,
    CommitStatus,
    Deployment,
    DeploymentState,
    DeploymentStatus,
    Issue,
    IssueState,
)

BOT = "slipway"


class LocalRecords:
    """Comments, statuses, deployments and issues kept as JSON records.

    Args:
        root: Finds the records folder (called once, on first use).
        clock: Current time (time-zone aware).
    """

    def __init__(self, *, root: Callable[[], Path], clock: Callable[[], datetime]) -> None:
        self._root = root
        self.clock = clock
        self._store: LocalStore | None = None

    @property
    def store(self) -> LocalStore:
        """The record store (its folder is found on first use)."""
        if self._store is None:
            self._store = LocalStore(self._root())
        return self._store

    # -- comments -----------------------------------------------------------------------

    def list_comments(self, *, number: int) -> list[Comment]:
        """Comments of a pull request or issue, oldest first."""
        return [comment_of(number, c) for c in self._thread(number).comments]

    def create_comment(self, *, number: int, body: str) -> Comment:
        """Add a comment."""
        with self.store.locked():
            thread = self._thread(number)
            now = self.clock()
            comment = CommentRecord(
                id=self.store.next_id("comment"),
                body=body,
                author=BOT,
                created_at=now,
                updated_at=now,
            )
            self._save_thread(thread.model_copy(update={"comments": [*thread.comments, comment]}))
        return comment_of(number, comment)

    def edit_comment(self, *, number: int, comment_id: int, body: str) -> Comment:
        """Replace a comment's body."""
        with self.store.locked():
            thread = self._thread(number)
            comments = list(thread.comments)
            for index, comment in enumerate(comments):
                if comment.id == comment_id:
                    comments[index] = comment.model_copy(
                        update={"body": body, "updated_at": self.clock()}
                    )
                    self._save_thread(thread.model_copy(update={"comments": comments}))
                    return comment_of(number, comments[index])
        raise ForgeNotFoundError(f"comment {comment_id} is not on #{number}")

    def delete_comment(self, *, number: int, comment_id: int) -> None:
        """Delete a comment (already gone counts as done)."""
        with self.store.locked():
            thread = self._thread(number)
            kept = [c for c in thread.comments if c.id != comment_id]
            if len(kept) != len(thread.comments):
                self._save_thread(thread.model_copy(update={"comments": kept}))

    # -- statuses and deployments -------------------------------------------------------

    def set_status(
        self,
        *,
        sha: str,
        context: str,
        state: CommitState,
        description: str,
        target_url: str | None = None,
    ) -> CommitStatus:
        """Set a commit status."""
        text = description[:140]
        with self.store.locked():
            statuses = self.store.statuses(sha)
            statuses[context] = StatusRecord(
                context=context,
                state=state,
                description=text,
                target_url=target_url,
                at=self.clock(),
            )
            self.store.save_statuses(sha, statuses)
        return CommitStatus(context, state, text, target_url)

    def list_statuses(self, *, sha: str) -> list[CommitStatus]:
        """Latest status per context."""
        return [
            CommitStatus(s.context, s.state, s.description, s.target_url)
            for s in self.store.statuses(sha).values()
        ]

    def list_deployments(self, *, sha: str, environment: str) -> list[Deployment]:
        """Deployments of ``sha`` to ``environment``, newest first."""
        found = [
            d for d in self.store.deployments() if d.sha == sha and d.environment == environment
        ]
        return [deployment_of(d) for d in reversed(found)]

    def create_deployment(
        self, *, sha: str, environment: str, description: str, payload: Mapping[str, Any]
    ) -> Deployment:
        """Record a deployment."""
        with self.store.locked():
            record = DeploymentRecord(
                id=self.store.next_id("deployment"),
                sha=sha,
                environment=environment,
                description=description,
                payload=dict(payload),
                created_at=self.clock(),
            )
            self.store.save_deployment(record)
        return deployment_of(record)

    def list_deployment_statuses(self, *, deployment_id: int) -> list[DeploymentStatus]:
        """Statuses of a deployment, oldest first."""
        return list(deployment_of(self._deployment(deployment_id)).statuses)

    def create_deployment_status(
        self,
        *,
        deployment_id: int,
        state: DeploymentState,
        description: str,
        log_url: str | None = None,
    ) -> DeploymentStatus:
        """Add a deployment status."""
        with self.store.locked():
            record = self._deployment(deployment_id)
            status = DeploymentStatusRecord(
                state=state, description=description[:140], log_url=log_url, at=self.clock()
            )
            self.store.save_deployment(
                record.model_copy(update={"statuses": [*record.statuses, status]})
            )
        return DeploymentStatus(state, status.description, log_url)

    # -- issues -------------------------------------------------------------------------

    def find_issue(self, *, marker: str, label: str) -> Issue | None:
        """The open issue labelled ``label`` whose body holds ``marker``."""
        for record in self.store.issues():
            if record.state == "open" and label in record.labels and marker in record.body:
                return issue_of(record)
        return None

    def list_issues(self, *, state: str | None = None) -> list[Issue]:
        """Issues, optionally only ``open`` or ``closed`` ones."""
        return [issue_of(r) for r in self.store.issues() if state in (None, r.state)]

    def create_issue(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        """Open an issue."""
        with self.store.locked():
            now = self.clock()
            record = IssueRecord(
                number=self.store.next_id("number"),
                title=title,
                body=body,
                labels=list(labels),
                created_at=now,
                updated_at=now,
            )
            self.store.save_issue(record)
        return issue_of(record)

    def update_issue(
        self,
        *,
        number: int,
        title: str | None = None,
        body: str | None = None,
        state: IssueState | None = None,
    ) -> Issue:
        """Edit an issue."""
        with self.store.locked():
            record = self.store.issue(number)
            if record is None:
                raise ForgeNotFoundError(f"issue #{number} does not exist")
            changes = {
                k: v
                for k, v in (("title", title), ("body", body), ("state", state))
                if v is not None
            }
            record = record.model_copy(update={**changes, "updated_at": self.clock()})
            self.store.save_issue(record)
        return issue_of(record)

    def _thread(self, number: int) -> ThreadRecord:
        record: ThreadRecord | None = self.store.pr(number) or self.store.issue(number)
        if record is None:
            raise ForgeNotFoundError(f"#{number} is neither a pull request nor an issue")
        return record

    def _save_thread(self, record: ThreadRecord) -> None:
        if isinstance(record, PrRecord):
            self.store.save_pr(record)
        elif isinstance(record, IssueRecord):
            self.store.save_issue(record)

    def _deployment(self, deployment_id: int) -> DeploymentRecord:
        record = self.store.deployment(deployment_id)
        if record is None:
            raise ForgeNotFoundError(f"deployment {deployment_id} does not exist")
        return record


def comment_of(number: int, record: CommentRecord) -> Comment:
    """A stored comment as a :class:`Comment`."""
    return Comment(
        id=record.id,
        body=record.body,
        url=f"local:pr/{number}#comment-{record.id}",
        author=record.author,
    )


def issue_of(record: IssueRecord) -> Issue:
    """A stored issue as an :class:`Issue`."""
    return Issue(
        number=record.number,
        title=record.title,
        body=record.body,
        state=record.state,
        url=f"local:issue/{record.number}",
        labels=tuple(record.labels),
    )


def deployment_of(record: DeploymentRecord) -> Deployment:
    """A stored deployment (with its statuses) as a :class:`Deployment`."""
    statuses = tuple(DeploymentStatus(s.state, s.description, s.log_url) for s in record.statuses)
    return Deployment(
        id=record.id,
        sha=record.sha,
        environment=record.environment,
        description=record.description,
        payload=record.payload,
        statuses=statuses,
    )
