"""Serve the console with uvicorn on one address (one process: every read is per request)."""

from __future__ import annotations

from services.console.readers import ConsoleContext
from services.console.settings import ConsoleSettings, check_bind, is_local


def serve(
    *,
    host: str,
    port: int,
    context: ConsoleContext | None = None,
    access_log: bool = False,
) -> None:
    """Serve the console on ``host:port`` until interrupted.

    Beyond localhost every page needs ``SLIPWAY_CONSOLE_TOKEN``; a non-local bind without one
    is refused before anything listens.

    Raises:
        ConsoleConfigError: ``host`` is not loopback and no token is set.
        SettingsError: A ``SLIPWAY_*`` variable is invalid.
    """
    import uvicorn

    from foundation.settings import load_settings
    from services.console.app import create_app

    context = context or ConsoleContext.from_environment(load_settings(ConsoleSettings))
    check_bind(host, context.console)
    app = create_app(context, require_token=not is_local(host))
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info")
