"""Git forges: the role protocols, the shared records, GitHub (PyGithub) and the local forge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci.forge.protocol import (
    Comments,
    Deployments,
    Files,
    Forge,
    Issues,
    PullRequests,
    Reviews,
    Statuses,
    Teams,
    Trees,
)
from ci.forge.records import (
    MAX_BODY_CHARS,
    Comment,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    FileCommit,
    Issue,
    IssueEdit,
    PrEdit,
    PullRequest,
    Review,
)

if TYPE_CHECKING:
    from ci.settings import CiSettings


def open_forge(settings: CiSettings) -> Forge:
    """The forge the settings name: ``LocalForge`` on ``repo_dir`` or ``GitHubForge``.

    No network call is made here, and the adapter's heavy imports happen only now.

    Raises:
        CiConfigError: ``github`` is selected but the token or repository is not set.
    """
    if settings.forge == "github":
        from ci.forge.github import GitHubForge

        return GitHubForge(settings=settings)
    from ci.forge.local import LocalForge

    return LocalForge(repo=settings.repo_dir, state_dir=settings.local_forge_dir)


__all__ = [
    "MAX_BODY_CHARS",
    "Comment",
    "Comments",
    "CommitStatus",
    "Deployment",
    "DeploymentStatus",
    "Deployments",
    "FileCommit",
    "Files",
    "Forge",
    "Issue",
    "IssueEdit",
    "Issues",
    "PrEdit",
    "PullRequest",
    "PullRequests",
    "Review",
    "Reviews",
    "Statuses",
    "Teams",
    "Trees",
    "open_forge",
]
