"""The local forge (the embedded default): plain git in a folder plus JSON records."""

from __future__ import annotations

from ci.forge.local.checks import LocalChecks
from ci.forge.local.files import LocalFiles
from ci.forge.local.pulls import LocalPulls
from ci.forge.local.teams import LocalTeams
from ci.forge.local.threads import LocalThreads


class LocalForge(LocalFiles, LocalPulls, LocalThreads, LocalChecks, LocalTeams):
    """A git repository on this machine as a :class:`~ci.forge.protocol.Forge`.

    Built as ``LocalForge(repo=..., state_dir=None, protection=None, clock=...)``; see
    :class:`~ci.forge.local.base.LocalBase`.
    """
