"""What promotion needs from a git forge, and the plain records the forges return.

Two implementations satisfy :class:`Forge`: ``GitHubForge`` (the REST API through PyGithub)
and ``LocalForge`` (plain git in a folder, pull requests kept as JSON records: the embedded
default). Promotion code only ever talks to this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

PrState = Literal["open", "closed", "merged"]
IssueState = Literal["open", "closed"]
CommitState = Literal["pending", "success", "failure", "error"]
DeploymentState = Literal["queued", "pending", "in_progress", "success", "failure", "error"]

#: GitHub's maximum comment, issue and pull request body length (characters).
MAX_BODY_CHARS = 65_535


@dataclass(frozen=True)
class PullRequest:
    """A pull request as the forge reports it.

    Attributes:
        number: Number (shared with issues on GitHub).
        title: Title.
        body: Body (markdown; empty when none).
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
    """An issue (drift, failed deploy).

    Attributes:
        number: Number.
        title: Title.
        body: Body.
        state: ``open`` or ``closed``.
        url: Web address.
        labels: Label names.
    """

    number: int
    title: str
    body: str
    state: IssueState
    url: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommitStatus:
    """One commit status (``slipway/plan``, ``slipway/policy``...).

    Attributes:
        context: Status name.
        state: ``pending``, ``success``, ``failure`` or ``error``.
        description: One short line (GitHub keeps 140 characters).
        target_url: Link shown next to the status.
    """

    context: str
    state: CommitState
    description: str
    target_url: str | None = None


@dataclass(frozen=True)
class DeploymentStatus:
    """One status of a deployment.

    Attributes:
        state: Deployment state.
        description: Short text.
        log_url: Link to the deploy log.
    """

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
        statuses: Statuses, oldest first (filled by ``list_deployment_statuses``).
    """

    id: int
    sha: str
    environment: str
    description: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    statuses: tuple[DeploymentStatus, ...] = ()


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


@runtime_checkable
class Forge(Protocol):
    """The operations promotion needs from a forge.

    Implementations never close or recreate a pull request on their own, and the GitHub one
    retries transient failures (5xx, 429, network) with bounded backoff before raising
    ``TransientForgeError``. Every method raises ``ForgeError`` (``ForgeNotFoundError`` for a
    missing object) on failure.
    """

    name: str

    def read_file(self, *, path: str, ref: str) -> str | None:
        """Text of a file at a branch or commit, or None when the file does not exist there."""
        ...

    def branch_sha(self, *, branch: str) -> str | None:
        """Commit a branch points at, or None when the branch does not exist."""
        ...

    def push_file(
        self, *, branch: str, base: str, path: str, content: str, message: str, reset: bool
    ) -> FileCommit:
        """Commit ``content`` to ``path`` on ``branch`` (created from ``base`` if missing).

        With ``reset`` the branch is first moved onto ``base``'s head. No commit is made when
        the file already holds ``content`` on the branch.
        """
        ...

    def find_open_pr(self, *, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request whose head is ``head`` (and base ``base``), if any."""
        ...

    def create_pr(
        self, *, head: str, base: str, title: str, body: str, labels: tuple[str, ...]
    ) -> PullRequest:
        """Open a pull request."""
        ...

    def update_pr(
        self,
        *,
        number: int,
        title: str | None = None,
        body: str | None = None,
        labels: tuple[str, ...] | None = None,
    ) -> PullRequest:
        """Change a pull request's title, body or labels (None leaves it as is)."""
        ...

    def get_pr(self, *, number: int) -> PullRequest:
        """One pull request."""
        ...

    def list_comments(self, *, number: int) -> list[Comment]:
        """Comments of a pull request or issue, oldest first."""
        ...

    def create_comment(self, *, number: int, body: str) -> Comment:
        """Add a comment to a pull request or issue."""
        ...

    def edit_comment(self, *, number: int, comment_id: int, body: str) -> Comment:
        """Replace a comment's body."""
        ...

    def delete_comment(self, *, number: int, comment_id: int) -> None:
        """Delete a comment."""
        ...

    def set_status(
        self,
        *,
        sha: str,
        context: str,
        state: CommitState,
        description: str,
        target_url: str | None = None,
    ) -> CommitStatus:
        """Set a commit status on ``sha``."""
        ...

    def list_statuses(self, *, sha: str) -> list[CommitStatus]:
        """Latest status per context on ``sha``."""
        ...

    def list_deployments(self, *, sha: str, environment: str) -> list[Deployment]:
        """Deployments of ``sha`` to ``environment``, newest first."""
        ...

    def create_deployment(
        self, *, sha: str, environment: str, description: str, payload: Mapping[str, Any]
    ) -> Deployment:
        """Record a deployment of ``sha`` to ``environment``."""
        ...

    def list_deployment_statuses(self, *, deployment_id: int) -> list[DeploymentStatus]:
        """Statuses of a deployment, oldest first."""
        ...

    def create_deployment_status(
        self,
        *,
        deployment_id: int,
        state: DeploymentState,
        description: str,
        log_url: str | None = None,
    ) -> DeploymentStatus:
        """Add a status to a deployment."""
        ...

    def find_issue(self, *, marker: str, label: str) -> Issue | None:
        """The open issue labelled ``label`` whose body contains ``marker``, if any."""
        ...

    def create_issue(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        """Open an issue."""
        ...

    def update_issue(
        self,
        *,
        number: int,
        title: str | None = None,
        body: str | None = None,
        state: IssueState | None = None,
    ) -> Issue:
        """Change an issue's title, body or state (None leaves it as is)."""
        ...

    def merge_pr(self, *, number: int, message: str) -> str:
        """Merge a pull request with a merge commit; returns the merge commit SHA."""
        ...

    def approve_pr(self, *, number: int, reviewer: str) -> PullRequest:
        """Approve the pull request's current head (the local forge only)."""
        ...
