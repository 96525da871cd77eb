"""The GitHub forge: the REST API through PyGithub (github.com or GitHub Enterprise Server).

A failure never makes it close, reopen or recreate a pull request; creating calls that may
have gone through despite a 5xx are checked before they are repeated, so a lost answer never
posts a second comment, pull request, review or deployment.
"""

from __future__ import annotations

from ci.forge.github.checks import GitHubChecks
from ci.forge.github.files import GitHubFiles
from ci.forge.github.pulls import GitHubPulls
from ci.forge.github.teams import GitHubTeams
from ci.forge.github.threads import GitHubThreads
from ci.forge.github.trees import GitHubTrees


class GitHubForge(GitHubFiles, GitHubTrees, GitHubPulls, GitHubThreads, GitHubChecks, GitHubTeams):
    """A GitHub repository as a :class:`~ci.forge.protocol.Forge`.

    Built as ``GitHubForge(settings=..., sleep=time.sleep, policy=None)``; see
    :class:`~ci.forge.github.client.GitHubClient`.
    """
