"""``slipway features``: plan, apply, materialize, read and serve the Feast feature repo."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from slipway.cli.feature_options import EnvOption, RepoOption, feature_repo
from slipway.cli.output import FormatOption, OutputFormat, emit

if TYPE_CHECKING:
    from feature_store.materialization import MaterializeResult

features_app = typer.Typer(
    help="Manage the Feast feature repo: plan, apply, materialize, read and serve features.",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class OnlineRows:
    """Online feature values, one dict per entity row (keys first, then features)."""

    rows: list[dict[str, Any]]

    def to_json(self) -> list[dict[str, Any]]:
        """The rows as they are."""
        return self.rows


@features_app.command("plan")
def plan_cmd(
    repo: RepoOption = None, env: EnvOption = None, fmt: FormatOption = OutputFormat.TEXT
) -> None:
    """Show how the registry would change if the repo were applied (like `feast plan`)."""
    from feature_store.registry_sync import plan
    from slipway.views.progress import spinner

    with spinner("Planning..."):
        result = plan(repo=feature_repo(repo, env))
    emit(result, fmt)


@features_app.command("apply")
def apply_cmd(
    repo: RepoOption = None, env: EnvOption = None, fmt: FormatOption = OutputFormat.TEXT
) -> None:
    """Register the repo's definitions and create the online tables (idempotent)."""
    from feature_store.registry_sync import apply
    from slipway.views.progress import spinner

    with spinner("Applying feature definitions..."):
        result = apply(repo=feature_repo(repo, env))
    verb = "applied" if result.applied else "nothing to apply"
    emit(result, fmt, text=lambda r: f"{r.to_text().rstrip()}\n{verb} in {r.seconds:.1f}s")


@features_app.command("materialize")
def materialize_cmd(
    repo: RepoOption = None,
    env: EnvOption = None,
    start: Annotated[
        str | None,
        typer.Option(help="Window start, ISO 8601. Omit for an incremental run."),
    ] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO 8601 [default: now].")] = None,
    views: Annotated[
        list[str] | None,
        typer.Option("--view", help="Feature view to materialize (repeatable; default: all)."),
    ] = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Validate every source, then load the latest values into the online store.

    If any source fails its expectation suite, nothing is written (exit 1, failures listed).
    """
    from feature_store.materialization import materialize
    from slipway.cli.params import time_param
    from slipway.views.progress import spinner

    with spinner("Validating sources and materializing..."):
        result = materialize(
            repo=feature_repo(repo, env),
            start=time_param(start, option="--start"),
            end=time_param(end, option="--end"),
            views=views or None,
        )
    emit(result, fmt, text=_materialized_view)


@features_app.command("get")
def get_cmd(
    entity: Annotated[
        list[str],
        typer.Option(help="Entity key and values, e.g. driver_id=1001,1002 (repeatable)."),
    ],
    repo: RepoOption = None,
    env: EnvOption = None,
    feature_service: Annotated[
        str | None, typer.Option(help="Feature service to read, e.g. driver_activity_v1.")
    ] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option(help="Feature reference view:feature (repeatable)."),
    ] = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Read online feature values for some entities and print them as a table."""
    from feature_store.online import read_online

    rows = read_online(
        repo=feature_repo(repo, env),
        entities=_parse_entities(entity),
        feature_service=feature_service,
        features=feature or None,
    )
    emit(OnlineRows(rows=rows), fmt, text=_rows_view)


@features_app.command("serve")
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
        Literal["local", "redis", "redis_cluster", "spark", "aws"] | None,
        typer.Option(
            "--env",
            help="Store configuration: local (SQLite, default), redis, redis_cluster, "
            "spark (its online store is Redis) or aws (DynamoDB).",
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
    """Serve online features over HTTP, a drop-in for `feast serve` (see docs/feature-server.md).

    Feast's routes (/get-online-features, /push, /write-to-online-store, /materialize,
    /materialize-incremental, /health; pushes and writes gated by the source's expectation
    suite) plus /v1/feature-services, /healthz, /readyz, /metrics and /docs. Limits, timeouts
    and the row cache come from SLIPWAY_SERVER_* variables (services.feature_server.settings).
    """
    from foundation.settings import load_settings
    from services.feature_server.runner import serve
    from services.feature_server.settings import ServerSettings

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
    settings = load_settings(ServerSettings, **update)
    serve(settings=settings, host=host, port=port, workers=workers, access_log=access_log)


def _parse_entities(items: list[str]) -> dict[str, list[int | float | str]]:
    entities: dict[str, list[int | float | str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise typer.BadParameter(f"expected KEY=V1,V2, got {item!r}", param_hint="--entity")
        entities[key.strip()] = [_scalar(v.strip()) for v in values.split(",")]
    return entities


def _scalar(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "∅" if value is None else str(value)


def _materialized_view(result: MaterializeResult) -> Any:
    from rich.console import Group
    from rich.text import Text

    window = f"{result.start:%Y-%m-%d %H:%M} .. " if result.start else "incremental up to "
    lines = [
        Text.from_markup(
            f"[green]PASS[/green] {r.source}: {len(r.outcomes)} expectations, "
            f"{r.row_count:,} rows, {r.seconds:.2f}s"
        )
        for r in result.reports
    ]
    done = Text.from_markup(
        f"[green]materialized[/green] {', '.join(result.views)} "
        f"({window}{result.end:%Y-%m-%d %H:%M}"
        f" UTC) in {result.seconds:.1f}s (gate {result.validate_seconds:.1f}s)"
    )
    return Group(*lines, done)


def _rows_view(result: OnlineRows) -> Any:
    from rich.table import Table

    if not result.rows:
        return "no rows"
    table = Table(*result.rows[0].keys())
    for row in result.rows:
        table.add_row(*(_fmt(v) for v in row.values()))
    return table
