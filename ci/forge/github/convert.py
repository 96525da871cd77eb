"""PyGithub objects as the shared records of :mod:`ci.forge.records` (and back for NotSet)."""

from __future__ import annotations

from typing import Any, TypeVar, get_args

from github.GithubObject import NotSet

from ci.forge.records import (
    Comment,
    CommitState,
    Deployment,
    DeploymentState,
    Issue,
    PullRequest,
    Review,
    ReviewState,
)

L = TypeVar("L", bound=str)


def literal(value: str | None, kind: Any, default: L) -> L:
    """``value`` as one of the literal type ``kind``'s values (lower-cased), else ``default``."""
    text = (value or "").lower()
    for option in get_args(kind):
        if text == option:
            found: L = option
            return found
    return default


def commit_state(value: str | None) -> CommitState:
    """A GitHub commit status state (unknown: ``error``)."""
    return literal(value, CommitState, "error")


def deployment_state(value: str | None) -> DeploymentState:
    """A GitHub deployment state (unknown: ``error``)."""
    return literal(value, DeploymentState, "error")


def to_pr(pull: Any) -> PullRequest:
    """A PyGithub pull request (``merged_at`` tells merged from closed)."""
    merged = pull.merged_at is not None
    return PullRequest(
        number=int(pull.number),
        title=pull.title or "",
        body=pull.body or "",
        head=pull.head.ref,
        base=pull.base.ref,
        head_sha=pull.head.sha,
        state="merged" if merged else ("open" if pull.state == "open" else "closed"),
        url=pull.html_url or pull.url,
        labels=tuple(label.name for label in pull.labels or []),
        merge_sha=pull.merge_commit_sha if merged else None,
    )


def to_review(review: Any) -> Review:
    """A PyGithub pull request review (``APPROVED`` becomes ``approved``)."""
    state: ReviewState = literal(review.state, ReviewState, "commented")
    user = review.user
    return Review(
        reviewer=user.login if user is not None else "", sha=review.commit_id, state=state
    )


def to_comment(comment: Any) -> Comment:
    """A PyGithub issue comment."""
    user = comment.user
    return Comment(
        id=int(comment.id),
        body=comment.body or "",
        url=comment.html_url or comment.url or "",
        author=user.login if user is not None else None,
    )


def to_issue(issue: Any) -> Issue:
    """A PyGithub issue."""
    return Issue(
        number=int(issue.number),
        title=issue.title or "",
        body=issue.body or "",
        state="open" if issue.state == "open" else "closed",
        url=issue.html_url or issue.url or "",
        labels=tuple(label.name for label in issue.labels or []),
    )


def to_deployment(deployment: Any) -> Deployment:
    """A PyGithub deployment (its statuses are read separately)."""
    payload = deployment.payload
    return Deployment(
        id=int(deployment.id),
        sha=deployment.sha,
        environment=deployment.environment or "",
        description=deployment.description or "",
        payload=payload if isinstance(payload, dict) else {},
    )


def opt(value: Any) -> Any:
    """PyGithub's NotSet for None (the field is left as is), else the value."""
    return NotSet if value is None else value
