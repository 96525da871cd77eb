"""``slipway console``: the read-only web console (services.console, docs/console.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from slipway.cli.output import FormatOption, OutputFormat, emit


@dataclass(frozen=True)
class ConsoleAddress:
    """Where the console listens and whether it asks for the token (printed before serving)."""

    url: str
    token_required: bool

    def to_json(self) -> dict[str, object]:
        """``{"url": ..., "token_required": ...}``."""
        return {"url": self.url, "token_required": self.token_required}

    def to_text(self) -> str:
        """One line: the address, and how to sign in when a token is needed."""
        how = "sign in at /login with SLIPWAY_CONSOLE_TOKEN" if self.token_required else "no token"
        return f"console on {self.url} ({how}); Ctrl+C stops it"


def console_command(
    host: Annotated[
        str, typer.Option(help="Interface to bind (beyond localhost a token is required).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8090,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Serve the read-only web console: environments x models, promotions, models, features.

    It reads what the CLI reads, through the same SLIPWAY_* variables (forge, registry,
    manifests, deploy state, feature repo). Bound beyond 127.0.0.1 every page needs the token
    of SLIPWAY_CONSOLE_TOKEN (sign in at /login or send `Authorization: Bearer <token>`).
    The address is printed first (`--format json`: url and token_required), then it serves
    until interrupted.
    """
    from services.console.runner import prepare, run

    app, token_required = prepare(host=host)
    shown = f"[{host}]" if ":" in host else host
    emit(ConsoleAddress(url=f"http://{shown}:{port}", token_required=token_required), fmt)
    run(app, host=host, port=port, access_log=access_log)
