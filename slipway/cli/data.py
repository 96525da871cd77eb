"""``slipway data``: generate the seeded demo data and validate sources with the data gate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli.feature_options import RepoOption, feature_repo
from slipway.cli.output import FormatOption, OutputFormat, emit

if TYPE_CHECKING:
    from feature_store.gate import SourceReport

data_app = typer.Typer(
    help="Generate demo data and validate data sources with the Great Expectations gate.",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class GeneratedData:
    """The Parquet files ``data generate`` wrote, by source name."""

    files: dict[str, Path]

    def to_json(self) -> dict[str, Any]:
        """Each source's file and size in bytes."""
        return {
            name: {"path": str(path), "bytes": path.stat().st_size}
            for name, path in self.files.items()
        }


@dataclass(frozen=True)
class Validation:
    """The gate's reports plus the report files written for them."""

    reports: list[SourceReport]
    written: dict[str, Path] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """True when every source passed its suite."""
        return all(report.success for report in self.reports)

    def to_json(self) -> dict[str, Any]:
        """Overall verdict, one entry per source, and where the reports are."""
        return {
            "success": self.success,
            "sources": [report.to_json() for report in self.reports],
            "report_files": {label: str(path) for label, path in self.written.items()},
        }


@data_app.command("generate")
def generate(
    repo: RepoOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder \\[default: <repo>/data].", show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 42,
    drivers: Annotated[int, typer.Option(min=1, help="Number of drivers.")] = 50,
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 200,
    days: Annotated[int, typer.Option(min=1, help="Days of history.")] = 14,
    trips: Annotated[int, typer.Option(min=1, help="Number of labelled trips.")] = 20_000,
    end: Annotated[
        str | None,
        typer.Option(help="End of the data window, ISO 8601 \\[default: now, to the hour]."),
    ] = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Write the seeded demo dataset (driver stats, customer profiles, labelled trips) as Parquet.

    Driver rows = drivers x days x 24; e.g. --drivers 1000 --days 42 gives 1M+ rows.
    """
    from feature_store.demo_data import DemoSizes, write_demo_data
    from slipway.cli.params import time_param

    target = out or feature_repo(repo, None).data_dir
    sizes = DemoSizes(drivers=drivers, customers=customers, days=days, trips=trips)
    from slipway.views.progress import spinner

    with spinner("Generating demo data..."):
        paths = write_demo_data(
            out_dir=target, sizes=sizes, seed=seed, end=time_param(end, option="--end")
        )
    emit(GeneratedData(files=paths), fmt, text=_generated_view)


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
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Validate data sources against their expectation suites; exit 1 if any fails.

    Suites live in <repo>/expectations/<source>.json; data in <repo>/data/<source>.parquet.
    The JSON results and a Great Expectations Data Docs site are written to --report-dir.
    """
    from feature_store.gate import ensure_valid, validate_sources, write_reports
    from slipway.views.progress import spinner

    source_repo = feature_repo(repo, None)
    with spinner("Validating with Great Expectations..."):
        reports = validate_sources(repo_path=source_repo.path, sources=sources or None)
        written = write_reports(reports=reports, out_dir=report_dir)
    emit(Validation(reports=reports, written=written), fmt, text=_validation_view)
    ensure_valid(reports)


def _generated_view(result: GeneratedData) -> Any:
    from rich.table import Table

    table = Table("source", "file", "size")
    for name, path in result.files.items():
        table.add_row(name, str(path), f"{path.stat().st_size / 1e6:.1f} MB")
    return table


def _validation_view(result: Validation) -> Any:
    from rich.console import Group
    from rich.text import Text

    from slipway.views.gate import render_table, verdict_lines

    lines = [Text(f"{label}: {path}", style="dim") for label, path in result.written.items()]
    return Group(render_table(result.reports), *verdict_lines(result.reports), *lines)
