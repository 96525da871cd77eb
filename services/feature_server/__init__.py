"""The feature service: Feast-compatible online features over HTTP, fast and authenticated.

``create_app(settings)`` builds the FastAPI app; ``serve(settings=..., host=..., port=...,
workers=...)`` runs it with pre-forked uvicorn workers. Importing this package is light: the
app (and so Feast) is imported on first use of ``create_app``, so ``serve`` decides how Feast is
loaded.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.feature_server.app import create_app
    from services.feature_server.runner import serve
    from services.feature_server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app", "serve"]

_HOMES = {
    "create_app": "services.feature_server.app",
    "serve": "services.feature_server.runner",
    "ServerSettings": "services.feature_server.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home), name)
