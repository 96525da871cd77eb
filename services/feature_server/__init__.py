"""The feature service: Feast-compatible online features over HTTP, fast and authenticated.

``create_app(settings)`` builds the FastAPI app; ``serve(settings=..., host=..., port=...,
workers=...)`` runs it under uvicorn; ``serve_command`` is the ``slipway features serve`` command.
"""

from services.feature_server.app import create_app
from services.feature_server.runner import serve
from services.feature_server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app", "serve"]
