"""Command groups of the services area: ``slipway data`` and ``slipway features``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.repo import FeatureRepo
from services.server.command import serve_command
from services.settings import FeatureEnv, ServicesSettings

if TYPE_CHECKING:
    from services.gate import SourceReport

data_app = typer.Typer(
    help="Generate demo data and validate data sources with the Great Expectations gate.",
    no_args_is_help=True,
)
features_app = typer.Typer(
    help="Manage the Feast feature repo: plan, apply, materialize, read and serve features.",
    no_args_is_help=True,
)
console = Console()

RepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        help="Feast feature repo folder [default: $SLIPWAY_FEATURE_REPO or ./feature_repo].",
        show_default=False,
    ),
]
EnvOption = Annotated[
    FeatureEnv | None,
    typer.Option(
        "--env",
        help="Store configuration: local (SQLite, default), redis, or aws (DynamoDB + S3).",
        show_default=False,
    ),
]


def _repo(repo: Path | None, env: FeatureEnv | None) -> FeatureRepo:
    settings = ServicesSettings()
    if env is not None:
        settings = settings.model_copy(update={"feature_env": env})
    return FeatureRepo.from_settings(settings, path=repo)


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=option) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@data_app.command("generate")
def generate(
    repo: RepoOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder [default: <repo>/data].", show_default=False)
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 42,
    drivers: Annotated[int, typer.Option(min=1, help="Number of drivers.")] = 50,
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 200,
    days: Annotated[int, typer.Option(min=1, help="Days of history.")] = 14,
    trips: Annotated[int, typer.Option(min=1, help="Number of labelled trips.")] = 20_000,
    end: Annotated[
        str | None,
        typer.Option(help="End of the data window, ISO 8601 [default: now, to the hour]."),
    ] = None,
) -> None:
    """Write the seeded demo dataset (driver stats, customer profiles, labelled trips) as Parquet.

    Driver rows = drivers x days x 24; e.g. --drivers 1000 --days 42 gives 1M+ rows.
    """
    from services.data.demo import DemoSizes, write_demo_data

    target = out or _repo(repo, None).data_dir
    sizes = DemoSizes(drivers=drivers, customers=customers, days=days, trips=trips)
    with console.status("Generating demo data..."):
        paths = write_demo_data(
            out_dir=target, sizes=sizes, seed=seed, end=_parse_time(end, "--end")
        )
    table = Table("source", "file", "size")
    for name, path in paths.items():
        table.add_row(name, str(path), f"{path.stat().st_size / 1e6:.1f} MB")
    console.print(table)


@data_app.command("validate")
def validate(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Source names (default: every source with a suite).", show_default=False
        ),
    ] = None,
    repo: RepoOption = None,
    report_dir: Annotated[
        Path, typer.Option(help="Where to write the JSON results and the Data Docs HTML.")
    ] = Path("reports/validation"),
) -> None:
    """Validate data sources against their expectation suites; exit 1 if any fails.

    Suites live in <repo>/expectations/<source>.json; data in <repo>/data/<source>.parquet.
    """
    from services.gate import ensure_valid, print_reports, validate_sources, write_reports

    feature_repo = _repo(repo, None)
    with console.status("Validating with Great Expectations..."):
        reports = validate_sources(repo_path=feature_repo.path, sources=sources or None)
        written = write_reports(reports=reports, out_dir=report_dir)
    print_reports(reports, console)
    for label, path in written.items():
        console.print(f"[dim]{label}: {path}[/dim]")
    ensure_valid(reports)


@features_app.command("plan")
def plan_cmd(repo: RepoOption = None, env: EnvOption = None) -> None:
    """Show how the registry would change if the repo were applied (like `feast plan`)."""
    from services.store import plan

    with console.status("Planning..."):
        result = plan(repo=_repo(repo, env))
    console.print(result.to_text(), markup=False, highlight=False)


@features_app.command("apply")
def apply_cmd(repo: RepoOption = None, env: EnvOption = None) -> None:
    """Register the repo's definitions and create the online tables (idempotent)."""
    from services.store import apply

    with console.status("Applying feature definitions..."):
        result = apply(repo=_repo(repo, env))
    console.print(result.to_text(), markup=False, highlight=False)
    verb = "applied" if result.applied else "nothing to apply"
    console.print(f"[green]{verb}[/green] in {result.seconds:.1f}s")


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
) -> None:
    """Validate every source, then load the latest values into the online store.

    If any source fails its expectation suite, nothing is written.
    """
    from services.store import materialize

    with console.status("Validating sources and materializing..."):
        result = materialize(
            repo=_repo(repo, env),
            start=_parse_time(start, "--start"),
            end=_parse_time(end, "--end"),
            views=views or None,
        )
    print_gate_summary(result.reports, console)
    window = f"{result.start:%Y-%m-%d %H:%M} .. " if result.start else "incremental up to "
    console.print(
        f"[green]materialized[/green] {', '.join(result.views)} "
        f"({window}{result.end:%Y-%m-%d %H:%M}"
        f" UTC) in {result.seconds:.1f}s (gate {result.validate_seconds:.1f}s)"
    )


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
) -> None:
    """Read online feature values for some entities and print them as a table."""
    from services.online import read_online

    rows = read_online(
        repo=_repo(repo, env),
        entities=_parse_entities(entity),
        feature_service=feature_service,
        features=feature or None,
    )
    if not rows:
        console.print("no rows")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(_fmt(v) for v in row.values()))
    console.print(table)


def print_gate_summary(reports: list[SourceReport], out: Console) -> None:
    """One line per source when everything passed; the failed expectations otherwise.

    Args:
        reports: Data gate reports.
        out: Console to print to.
    """
    from services.gate import print_reports

    if all(r.success for r in reports):
        for r in reports:
            out.print(
                f"[green]PASS[/green] {r.source}: {len(r.outcomes)} expectations, "
                f"{r.row_count:,} rows, {r.seconds:.2f}s"
            )
    else:
        print_reports(reports, out, failures_only=True)


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


features_app.command("serve")(serve_command)
