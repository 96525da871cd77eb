"""Serve the console with uvicorn on one address (one process: every read is per request)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.console.readers import ConsoleContext
from services.console.settings import ConsoleSettings, check_bind, is_local

if TYPE_CHECKING:
    from fastapi import FastAPI


def prepare(*, host: str, context: ConsoleContext | None = None) -> tuple[FastAPI, bool]:
    """The app for a bind on ``host``, and whether it requires the token.

    Beyond localhost every page needs ``SLIPWAY_CONSOLE_TOKEN``; a non-local bind without one
    is refused here, before anything listens.

    Raises:
        ConsoleConfigError: ``host`` is not loopback and no token is set.
        SettingsError: A ``SLIPWAY_*`` variable is invalid.
    """
    from foundation.settings import load_settings
    from services.console.app import create_app

    context = context or ConsoleContext.from_environment(load_settings(ConsoleSettings))
    check_bind(host, context.console)
    required = not is_local(host)
    return create_app(context, require_token=required), required


def run(app: FastAPI, *, host: str, port: int, access_log: bool = False) -> None:
    """Serve ``app`` on ``host:port`` with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info")


def serve(
    *, host: str, port: int, context: ConsoleContext | None = None, access_log: bool = False
) -> None:
    """:func:`prepare` then :func:`run` (same errors as :func:`prepare`)."""
    app, _ = prepare(host=host, context=context)
    run(app, host=host, port=port, access_log=access_log)
