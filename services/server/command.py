"""``slipway features serve``: a Typer command, ready to register on the ``features`` group.

Wire it in ``services/cli.py`` with::

    from services.server.command import serve_command
    features_app.command("serve")(serve_command)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.settings import FeatureEnv


def serve_command(
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="Feast feature repo folder (default: $SLIPWAY_SERVER_FEATURE_REPO, "
            "$SLIPWAY_FEATURE_REPO or ./feature_repo).",
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        FeatureEnv | None,
        typer.Option(
            "--env",
            help="Store configuration: local (SQLite, default) or redis; aws (DynamoDB) is "
            "not served.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 6566,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each holds its own registry copy).")
    ] = 1,
    api_keys: Annotated[
        Path | None,
        typer.Option(
            "--api-keys",
            help="YAML/JSON file of hashed API keys; auth is off without it "
            "(default: $SLIPWAY_SERVER_API_KEYS_FILE).",
            show_default=False,
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
) -> None:
    """Serve online features over HTTP (Feast-compatible /get-online-features).

    Also serves /v1/feature-services, /healthz, /readyz, /metrics and /docs. Limits, timeouts
    and the row cache come from SLIPWAY_SERVER_* variables (services.server.settings).
    """
    import os

    from services.errors import ServicesError
    from services.server.runner import serve
    from services.server.settings import ServerSettings

    settings = ServerSettings()
    update: dict[str, object] = {}
    if repo is not None:
        update["feature_repo"] = repo
    elif "SLIPWAY_SERVER_FEATURE_REPO" not in os.environ and "SLIPWAY_FEATURE_REPO" in os.environ:
        update["feature_repo"] = Path(os.environ["SLIPWAY_FEATURE_REPO"])
    if env is not None:
        update["feature_env"] = env
    elif "SLIPWAY_SERVER_FEATURE_ENV" not in os.environ and "SLIPWAY_FEATURE_ENV" in os.environ:
        update["feature_env"] = os.environ["SLIPWAY_FEATURE_ENV"]
    if api_keys is not None:
        update["api_keys_file"] = api_keys
    settings = ServerSettings.model_validate({**settings.model_dump(), **update})
    try:
        serve(settings=settings, host=host, port=port, workers=workers, access_log=access_log)
    except ServicesError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
