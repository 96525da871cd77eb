"""The local forge's teams: who belongs to a CODEOWNERS team such as ``@acme/release``."""

from __future__ import annotations

from ci.errors import ForgeError
from ci.forge.local.base import LocalBase


class LocalTeams(LocalBase):
    """Team members kept in the record store (``teams.json``); set them with ``set_team``."""

    def team_members(self, *, team: str) -> list[str] | None:
        """Members of ``team`` (``org/slug``), or None when the team was never set here."""
        members = self.store.teams().get(team.removeprefix("@"))
        return sorted(members) if members is not None else None

    def set_team(self, *, team: str, members: list[str]) -> list[str]:
        """Make ``members`` the members of ``team`` (``org/slug``); returns them, sorted."""
        name = team.removeprefix("@")
        if name.count("/") != 1 or not all(name.split("/")):
            raise ForgeError(f"{team!r} is not a team: write it as org/team")
        with self.store.locked():
            teams = self.store.teams()
            teams[name] = sorted(set(members))
            self.store.save_teams(teams)
        return teams[name]
