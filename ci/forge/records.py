"""The plain records every forge returns and takes (no adapter-specific fields).

The GitHub and the local forge map their own objects (REST answers, JSON records) onto these;
nothing here says where a record came from, so code written against the role protocols of
:mod:`ci.forge.protocol` runs unchanged on either forge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PrState = Literal["open", "closed", "merged"]
IssueState = Literal["open", "closed"]
CommitState = Literal["pending", "success", "failure", "error"]
DeploymentState = Literal[
    "queued", "pending", "in_progress", "success", "failure", "error", "inactive"
]
ReviewState = Literal["approved", "changes_requested", "commented", "dismissed", "pending"]

#: The commit statuses a merge needs by default (set by ``slipway ci comment-plan``).
PLAN_CONTEXTS = ("slipway/plan", "slipway/policy")

#: GitHub's maximum comment, issue and pull request body length (characters).
MAX_BODY_CHARS = 65_535
#: GitHub keeps this many characters of a commit or deployment status description.
MAX_STATUS_CHARS = 140


@dataclass(frozen=True)
class PullRequest:
    """A pull request as the forge reports it.

    Attributes:
        number: Number (shared with issues).
        body: Markdown (empty when none).
        head: Head branch name.
        base: Base branch name.
        head_sha: Commit the head branch points at (for a merged PR: the head when merged).
        state: ``open``, ``closed`` (without merging) or ``merged``.
        url: Web address (GitHub) or ``local:pr/<n>``.
        labels: Label names.
        merge_sha: The merge commit, once merged.
    """

    number: int
    title: str
    body: str
    head: str
    base: str
    head_sha: str
    state: PrState
    url: str
    labels: tuple[str, ...] = ()
    merge_sha: str | None = None


@dataclass(frozen=True)
class PrEdit:
    """What to change on a pull request (None leaves a field as it is)."""

    title: str | None = None
    body: str | None = None
    labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Review:
    """One review of a pull request, bound to the head commit it was given on.

    Attributes:
        reviewer: Login (GitHub) or name (local forge) of the reviewer.
        sha: The head commit reviewed; a later push leaves the review on the old commit.
        state: ``approved`` and so on.
    """

    reviewer: str
    sha: str
    state: ReviewState


@dataclass(frozen=True)
class Comment:
    """A comment on a pull request or issue.

    Attributes:
        id: Comment id (unique in the repository).
        body: Markdown body.
        url: Web address.
        author: Login of the author, when known.
    """

    id: int
    body: str
    url: str = ""
    author: str | None = None


@dataclass(frozen=True)
class Issue:
    """An issue (drift, failed deploy); numbers are shared with pull requests."""

    number: int
    title: str
    body: str
    state: IssueState
    url: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class IssueEdit:
    """What to change on an issue (None leaves a field as it is)."""

    title: str | None = None
    body: str | None = None
    state: IssueState | None = None


@dataclass(frozen=True)
class CommitStatus:
    """One commit status (``slipway/plan``, ``slipway/policy``...).

    Attributes:
        context: Status name.
        state: ``pending``, ``success``, ``failure`` or ``error``.
        description: One short line (forges keep :data:`MAX_STATUS_CHARS` characters).
        target_url: Link shown next to the status.
    """

    context: str
    state: CommitState
    description: str
    target_url: str | None = None


@dataclass(frozen=True)
class DeploymentStatus:
    """One status of a deployment (``log_url``: link to the deploy log)."""

    state: DeploymentState
    description: str
    log_url: str | None = None


@dataclass(frozen=True)
class Deployment:
    """A deployment of one commit to one environment.

    Attributes:
        id: Deployment id.
        sha: Commit deployed.
        environment: Environment name.
        description: Short text.
        payload: Machine-readable details (model ref, pull request).
    """

    id: int
    sha: str
    environment: str
    description: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileCommit:
    """Result of writing one file to a branch.

    Attributes:
        branch: The branch.
        sha: The branch head after the call.
        changed: Whether a new commit was made (False: the file already had that content).
        created_branch: Whether the branch was created (or reset onto the base) by the call.
    """

    branch: str
    sha: str
    changed: bool
    created_branch: bool = False


@dataclass(frozen=True)
class BranchProtection:
    """What a merge into a base branch needs, as GitHub's branch protection puts it.

    The local forge applies it itself; on GitHub the repository's branch protection rules
    decide (set them up as ``docs/github-setup.md`` says).

    Attributes:
        require_approval: An approval of the current head (given after the last push).
        required_contexts: Commit statuses that must be ``success`` on the current head.
        strict: The head must contain the base branch's head (the branch is up to date, so
            what was planned is what merges).
    """

    require_approval: bool = True
    required_contexts: tuple[str, ...] = PLAN_CONTEXTS
    strict: bool = True


#: Merges need nothing but a clean merge (tests, and repositories without a plan job).
UNPROTECTED = BranchProtection(require_approval=False, required_contexts=(), strict=False)


def short(text: str, limit: int = MAX_STATUS_CHARS) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
