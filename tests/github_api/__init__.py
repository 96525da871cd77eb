"""A local stand-in for the GitHub REST API: the shapes PyGithub parses, every call recorded.

``GitHubState`` holds repositories (a tiny git object model: blobs, commits, refs), pull
requests with reviews and branch protection, issues, comments, labels, commit statuses and
deployments, and users by token (the default token is the automation, ``add_user`` adds a
reviewer); ``create_app`` serves it with FastAPI; ``serve`` runs it under uvicorn on a free
127.0.0.1 port in a thread. Faults can be injected: the next N calls matching a method and
path answer 502, 429 with Retry-After... ``test_shapes_against_replay.py`` holds every answer
to GitHub's recorded ones (``replay/``).
"""

from .app import create_app
from .server import RunningServer, serve
from .state import Call, Fault, GitHubState, RepoState

__all__ = [
    "Call",
    "Fault",
    "GitHubState",
    "RepoState",
    "RunningServer",
    "create_app",
    "serve",
]
