"""The GitHub forge (PyGithub): the client (``client``), one part per role, record mapping."""

from ci.forge.github.forge import GitHubForge

__all__ = ["GitHubForge"]
