"""The GitHub forge's teams: members of an organization team that CODEOWNERS names."""

from __future__ import annotations

from ci.errors import ForgeError
from ci.forge.github.client import GitHubClient


class GitHubTeams(GitHubClient):
    """Team members through ``GET /orgs/{org}/teams/{team}/members``."""

    def team_members(self, *, team: str) -> list[str] | None:
        """Logins of ``team`` (``org/team``), or None when GitHub will not say.

        The workflow's ``GITHUB_TOKEN`` cannot read organization teams (GitHub answers 403 or
        404): that reads as "cannot tell", never as "nobody".
        """
        org, _, slug = team.removeprefix("@").partition("/")
        if not org or not slug:
            raise ForgeError(f"{team!r} is not a team: write it as org/team")

        def read() -> list[str]:
            found = self._gh().get_organization(org).get_team_by_slug(slug).get_members()
            return sorted(str(user.login) for user in found)

        try:
            return self._call(f"list the members of {org}/{slug}", read)
        except ForgeError as exc:
            if exc.status in (403, 404):
                return None
            raise
