"""What the ci area needs from a git forge, split by role so each consumer names only its part.

Two adapters satisfy every role: ``GitHubForge`` (the REST API through PyGithub) and
``LocalForge`` (plain git in a folder, pull requests kept as JSON records: the embedded
default). Consumers type their parameter with the roles they use (``Comments`` for a sticky
comment, ``Issues`` and ``Comments`` for the drift issue...); :class:`Forge` is all of them.

``Trees`` compares and reverts whole trees; ``Teams`` tells who is in a CODEOWNERS team.

Every method raises ``ForgeError`` on failure, ``ForgeNotFoundError`` for a missing pull
request, issue, comment, branch or deployment, and ``MergeBlockedError`` when a merge is
refused. No method closes or recreates a pull request on its own, and creating calls never
make a second object when an earlier attempt went through (the GitHub adapter looks for it
before repeating a call whose answer was lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from ci.forge.records import (
    Comment,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    FileCommit,
    Issue,
    IssueEdit,
    IssueState,
    PrEdit,
    PrState,
    PullRequest,
    Review,
)


@runtime_checkable
class Files(Protocol):
    """Reading files at a ref, branch heads, and committing one file to a branch."""

    def read_file(self, *, path: str, ref: str) -> str | None:
        """Text of a file at a branch or commit, or None when the ref or the file is missing."""
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

        Raises:
            ForgeNotFoundError: ``base`` does not exist.
        """
        ...


@runtime_checkable
class Trees(Protocol):
    """Comparing whole trees, and reverting a merge commit (every file it changed)."""

    def changed_paths(self, *, base: str, head: str) -> list[str]:
        """Paths whose content differs between ``base`` and ``head`` (refs), sorted.

        Raises:
            ForgeNotFoundError: A ref does not exist.
        """
        ...

    def revert_merge(self, *, sha: str, branch: str, base: str, message: str) -> FileCommit:
        """Commit the revert of ``sha`` against its first parent on ``branch``, atop ``base``.

        Like ``git revert -m 1``: every file the merge changed gets its content from before
        the merge. ``branch`` is created or moved onto the revert (nothing is written when it
        already holds exactly that revert on top of ``base``'s head).

        Raises:
            ForgeNotFoundError: ``base`` or ``sha`` does not exist.
            RevertConflictError: A file of ``sha`` changed on ``base`` since (named), or
                ``base`` already holds what ``sha`` replaced.
        """
        ...


@runtime_checkable
class Teams(Protocol):
    """Who is in a team that CODEOWNERS names (``@org/team``)."""

    def team_members(self, *, team: str) -> list[str] | None:
        """Logins of ``team`` (``org/team``), or None when the forge cannot tell.

        GitHub needs a token that may read the organization's teams; the local forge knows
        the teams set with ``LocalForge.set_team``.
        """
        ...


@runtime_checkable
class PullRequests(Protocol):
    """Opening, finding, reading and editing pull requests."""

    def find_open_pr(self, *, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request whose head is ``head`` (and base ``base``), if any."""
        ...

    def list_prs(self, *, state: PrState | None = None) -> list[PullRequest]:
        """Pull requests by number, optionally only those in ``state``."""
        ...

    def get_pr(self, *, number: int) -> PullRequest:
        """One pull request."""
        ...

    def create_pr(
        self, *, head: str, base: str, title: str, body: str, labels: tuple[str, ...]
    ) -> PullRequest:
        """Open a pull request; the open one from the same head is adopted, never duplicated."""
        ...

    def update_pr(self, *, number: int, edit: PrEdit) -> PullRequest:
        """Change a pull request's title, body or labels."""
        ...


@runtime_checkable
class Reviews(Protocol):
    """Reviews bound to a head commit, and merging."""

    def list_reviews(self, *, number: int) -> list[Review]:
        """Reviews of a pull request, oldest first."""
        ...

    def approve_pr(self, *, number: int, reviewer: str | None = None) -> Review:
        """Approve the open pull request's current head (again: the same review comes back).

        ``reviewer`` names who approves where the forge lets the caller say so (the local
        forge; default: this machine's user). On GitHub the review is by the token's user:
        a different ``reviewer`` is refused, and GitHub refuses approving your own pull
        request.
        """
        ...

    def merge_pr(self, *, number: int, message: str) -> str:
        """Merge the current head with a merge commit; returns its SHA.

        Raises:
            MergeBlockedError: The forge refused: not open, a protection rule not met (an
                approval after the last push, required statuses on the current head, a
                branch behind its base) or conflicts. The message names the rule and why,
                with the failing statuses' own descriptions.
        """
        ...


@runtime_checkable
class Comments(Protocol):
    """Comments of pull requests and issues."""

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
        """Delete a comment (already gone counts as done)."""
        ...


@runtime_checkable
class Statuses(Protocol):
    """Commit statuses."""

    def set_status(self, *, sha: str, status: CommitStatus) -> CommitStatus:
        """Set a commit status on ``sha`` (the description is cut to 140 characters)."""
        ...

    def list_statuses(self, *, sha: str) -> list[CommitStatus]:
        """Latest status per context on ``sha``."""
        ...


@runtime_checkable
class Issues(Protocol):
    """Issues (pull requests are never returned as issues)."""

    def find_issue(self, *, marker: str, label: str) -> Issue | None:
        """The open issue labelled ``label`` whose body contains ``marker``, if any."""
        ...

    def list_issues(self, *, state: IssueState | None = None) -> list[Issue]:
        """Issues, newest first, optionally only those in ``state``."""
        ...

    def create_issue(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        """Open an issue."""
        ...

    def update_issue(self, *, number: int, edit: IssueEdit) -> Issue:
        """Change an issue's title, body or state."""
        ...


@runtime_checkable
class Deployments(Protocol):
    """Deployments of commits to environments, with their statuses."""

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
        self, *, deployment_id: int, status: DeploymentStatus
    ) -> DeploymentStatus:
        """Add a status to a deployment (the description is cut to 140 characters)."""
        ...


@runtime_checkable
class Forge(
    Files, Trees, PullRequests, Reviews, Comments, Statuses, Issues, Deployments, Teams, Protocol
):
    """Every role: what ``open_forge`` returns. ``name`` is ``local`` or ``github``."""

    name: str
