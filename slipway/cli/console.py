"""``slipway console``: the read-only web console (services.console, docs/console.md)."""

from __future__ import annotations

from typing import Annotated

import typer


def console_command(
    host: Annotated[
        str,
        typer.Option(help="Interface to bind; beyond localhost SLIPWAY_CONSOLE_TOKEN is required."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8090,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
) -> None:
    """Serve the read-only web console: environments x models, promotions, models, features.

    It reads what the CLI reads, through the same SLIPWAY_* variables (forge, registry,
    manifests, deploy state, feature repo). Bound beyond 127.0.0.1 every page needs the token
    of SLIPWAY_CONSOLE_TOKEN (sign in at /login or send `Authorization: Bearer <token>`).
    """
    from services.console.runner import serve

    serve(host=host, port=port, access_log=access_log)
