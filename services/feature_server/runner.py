"""Run the feature service under uvicorn (uvloop, httptools, access log off by default).

``serve`` exports the settings as ``SLIPWAY_SERVER_*`` variables and starts uvicorn on the
importable factory ``services.feature_server.runner:app_from_env``, so ``workers > 1`` works: every
worker process builds its own app from the same environment. With several workers,
``PROMETHEUS_MULTIPROC_DIR`` is set to a fresh temporary folder so ``/metrics`` aggregates all
workers.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Final

from fastapi import FastAPI

from services.feature_server.app import create_app
from services.feature_server.metrics import AGGREGATE_ENV, MULTIPROC_ENV
from services.feature_server.settings import ServerSettings

FACTORY: Final = "services.feature_server.runner:app_from_env"

logger = logging.getLogger(__name__)


def app_from_env() -> FastAPI:
    """Build the app from ``SLIPWAY_SERVER_*`` environment variables (uvicorn factory).

    Returns:
        The app.
    """
    return create_app(ServerSettings())


def serve(
    *,
    settings: ServerSettings,
    host: str = "127.0.0.1",
    port: int = 6566,
    workers: int = 1,
    access_log: bool = False,
    log_level: str = "info",
) -> None:
    """Serve until interrupted.

    Args:
        settings: Server settings (exported to the environment for the workers).
        host: Interface to bind.
        port: TCP port.
        workers: Worker processes; each holds its own registry snapshot and store connections.
        access_log: Log one line per request (off by default: it costs throughput).
        log_level: uvicorn log level.

    Raises:
        ServerConfigError: The settings or the repo config are invalid (checked before starting).
    """
    import uvicorn

    create_app(settings)  # fail fast on a bad repo config or keys file, before forking
    os.environ.update(settings.to_env())
    multiproc_dir: str | None = None
    if workers > 1:
        multiproc_dir = tempfile.mkdtemp(prefix="slipway-metrics-")
        os.environ[MULTIPROC_ENV] = multiproc_dir
        os.environ[AGGREGATE_ENV] = "1"
    try:
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            access_log=access_log,
            log_level=log_level,
            timeout_keep_alive=30,
            server_header=False,  # do not advertise the server software
        )
    finally:
        if multiproc_dir is not None:
            os.environ.pop(MULTIPROC_ENV, None)
            os.environ.pop(AGGREGATE_ENV, None)
            shutil.rmtree(multiproc_dir, ignore_errors=True)
