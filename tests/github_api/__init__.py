"""A local stand-in for the GitHub REST API: the shapes PyGithub parses, every call recorded.

``GitHubState`` holds repositories (a tiny git object model: blobs, commits, refs), pull
requests, issues, comments, labels, commit statuses and deployments; ``create_app`` serves it
with FastAPI; ``serve`` runs it under uvicorn on a free 127.0.0.1 port in a thread. Faults can
be injected: the next N calls matching a method and path answer 502, 429 with Retry-After...
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
