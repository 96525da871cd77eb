"""``slipway data``: generate the seeded demo data and validate sources with the data gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from foundation.times import parse_time
from slipway.cli.feature_options import RepoOption, feature_repo

data_app = typer.Typer(
    help="Generate demo data and validate data sources with the Great Expectations gate.",
    no_args_is_help=True,
)
console = Console()


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
    from feature_store.demo_data import DemoSizes, write_demo_data

    target = out or feature_repo(repo, None).data_dir
    sizes = DemoSizes(drivers=drivers, customers=customers, days=days, trips=trips)
    with console.status("Generating demo data..."):
        paths = write_demo_data(
            out_dir=target, sizes=sizes, seed=seed, end=parse_time(end, option="--end")
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
    from feature_store.gate import ensure_valid, validate_sources, write_reports
    from slipway.views.gate import print_reports

    source_repo = feature_repo(repo, None)
    with console.status("Validating with Great Expectations..."):
        reports = validate_sources(repo_path=source_repo.path, sources=sources or None)
        written = write_reports(reports=reports, out_dir=report_dir)
    print_reports(reports, console)
    for label, path in written.items():
        console.print(f"[dim]{label}: {path}[/dim]")
    ensure_valid(reports)
