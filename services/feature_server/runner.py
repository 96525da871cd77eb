"""Run the feature service under uvicorn (uvloop, httptools, access log off by default).

``serve`` builds the app once in this process (so a bad repo config or keys file fails before
anything starts), binds the listening socket, then forks the worker processes that serve it
(``services.feature_server.supervisor``): a worker starts from the loaded app instead of
importing Feast again. With several workers, ``PROMETHEUS_MULTIPROC_DIR`` points at a fresh
temporary folder so ``/metrics`` on any worker aggregates all of them.

Feast is imported by ``serve`` itself (this module and the package do not import it), without
typeguard's run-time checks: see ``without_feast_type_checks``.

``app_from_env`` is an importable app factory for running the service under another server
(``uvicorn --factory services.feature_server.runner:app_from_env``).
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import socket
import sys
import tempfile
from functools import partial
from typing import TYPE_CHECKING, Any

from foundation.settings import load_settings
from services.errors import ServerConfigError
from services.feature_server.metrics import multiprocess_metrics, single_process_metrics
from services.feature_server.settings import ServerSettings
from services.feature_server.supervisor import Supervisor

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger("uvicorn.error")


def app_from_env() -> FastAPI:
    """Build the app from ``SLIPWAY_SERVER_*`` environment variables (an app factory).

    Raises:
        SettingsError: A variable is invalid (the message names it).
        ServerConfigError: The repo config or the API keys file is invalid.
    """
    from services.feature_server.app import create_app

    return create_app(load_settings(ServerSettings))


def serve(
    *,
    settings: ServerSettings,
    host: str = "127.0.0.1",
    port: int = 6566,
    workers: int = 1,
    access_log: bool = False,
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM or SIGINT with ``workers`` pre-forked worker processes.

    Each worker holds its own registry snapshot and store connections. The settings are also
    exported as ``SLIPWAY_SERVER_*`` variables for anything the workers start.

    Raises:
        ServerConfigError: The settings, the repo config or the keys file are invalid, the
            port cannot be bound or ``workers`` is below 1 (all checked before any worker
            starts).
        WorkerStartupError: A worker's app start-up failed.
    """
    if workers < 1:
        raise ServerConfigError(f"workers must be at least 1, got {workers}")
    import uvicorn

    without_feast_type_checks()
    from services.feature_server.app import create_app

    multiproc_dir: str | None = None
    if workers > 1:
        multiproc_dir = tempfile.mkdtemp(prefix="slipway-metrics-")
        multiprocess_metrics(multiproc_dir)  # before the app creates its metrics
    try:
        app = create_app(settings)
        os.environ.update(settings.to_env())
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            access_log=access_log,
            log_level=log_level,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=10,
            server_header=False,  # do not advertise the server software
        )
        config.load()  # once here, not in every worker
        with _listen(host, port, backlog=config.backlog) as sock:
            logger.info(
                "Serving on http://%s:%d with %d worker process(es) (parent [%d])",
                host,
                sock.getsockname()[1],
                workers,
                os.getpid(),
            )
            gc.collect()
            gc.freeze()  # the loaded app is shared copy-on-write; keep the collector off it
            Supervisor(target=partial(_serve_worker, config, sock), workers=workers).run()
    finally:
        if multiproc_dir is not None:
            single_process_metrics()
            shutil.rmtree(multiproc_dir, ignore_errors=True)


def without_feast_type_checks() -> None:
    """Make Feast's ``@typechecked`` a no-op in this process, as ``python -O`` does.

    Feast decorates some twenty classes and functions with ``typeguard.typechecked``, which
    re-parses and recompiles the whole module of each one at import time (bytecode caching
    cannot help): about 4.4 of the 5.9 s this server spent importing Feast on 2 cores. The
    checks guard the arguments of user code building Feast objects; this server only builds
    them from the registry's protos. Typeguard itself skips them under ``-O`` ("not meant to be
    run in production"). Applied only while Feast is not imported yet; otherwise a no-op.
    """
    if "feast" in sys.modules:
        return
    import typeguard

    def typechecked(target: Any = None, **_: Any) -> Any:
        return target if target is not None else typechecked

    typeguard.typechecked = typechecked


def _serve_worker(config: Any, sock: socket.socket) -> int:
    """Run one uvicorn server on the inherited socket (in a forked worker) until stopped."""
    import uvicorn

    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _listen(host: str, port: int, *, backlog: int) -> socket.socket:
    """A listening TCP socket; connections queue here while the workers start.

    Raises:
        ServerConfigError: The address cannot be bound (in use, not local, no permission).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or type(exc).__name__
        raise ServerConfigError(f"cannot listen on {host}:{port}: {reason}") from exc
    return sock
