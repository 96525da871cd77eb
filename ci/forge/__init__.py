"""Git forges: the protocol promotion needs, GitHub (PyGithub) and the local git forge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci.forge.protocol import (
    MAX_BODY_CHARS,
    Comment,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    FileCommit,
    Forge,
    Issue,
    PullRequest,
)

if TYPE_CHECKING:
    from ci.settings import CiSettings


def open_forge(settings: CiSettings) -> Forge:
    """Build the forge the settings name (no network call is made here).

    Args:
        settings: ci settings (``forge``: ``local`` or ``github``).

    Returns:
        A ``LocalForge`` on ``settings.repo_dir`` or a ``GitHubForge``.

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
    "CommitStatus",
    "Deployment",
    "DeploymentStatus",
    "FileCommit",
    "Forge",
    "Issue",
    "PullRequest",
    "open_forge",
]
