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
        typer.Option(help="Output folder [default: <repo>/data].", show_default=False),
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


@dataclass(frozen=True)
class SuggestedSuite:
    """A starter suite and where it was written."""

    suite: dict[str, Any]
    path: Path | None

    def to_json(self) -> dict[str, Any]:
        """The suite itself, and the file it went to."""
        return {"path": str(self.path) if self.path else None, "suite": self.suite}


@data_app.command("suggest")
def suggest(
    source: Annotated[
        str, typer.Argument(help="Data source name, e.g. trips.", show_default=False)
    ],
    repo: RepoOption = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Parquet file to sample [default: <repo>/data/<SOURCE>.parquet].",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the suite [default: <repo>/expectations/<SOURCE>.json].",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Option(help="Unique key column (repeatable; default: *_id columns found unique)."),
    ] = None,
    sample: Annotated[int, typer.Option(min=1, help="Rows sampled from the data.")] = 100_000,
    force: Annotated[bool, typer.Option(help="Replace an existing suite file.")] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Write a starter expectation suite from a sample of SOURCE's data, to review and commit.

    Types, nulls, key uniqueness and freshness are critical; observed ranges and value sets are
    warnings until you confirm them. An existing suite is never replaced without --force.
    """
    import pandas as pd

    from feature_store.errors import DataFileError
    from feature_store.gate.suggest import SuggestOptions, suggest_suite
    from feature_store.gate.suites import DATA_DIR, SUITES_DIR
    from foundation.files import write_json_atomic

    root = feature_repo(repo, None).path
    data_path = data or root / DATA_DIR / f"{source}.parquet"
    target = out or root / SUITES_DIR / f"{source}.json"
    if target.exists() and not force:
        raise DataFileError(f"{target}: a suite already exists; review it, or pass --force")
    try:
        frame = pd.read_parquet(data_path)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{data_path}: not a readable Parquet file: {exc}") from exc
    options = SuggestOptions(keys=tuple(key) if key else None, sample_rows=sample)
    try:
        suite = suggest_suite(frame, source=source, options=options)
    except ValueError as exc:
        raise DataFileError(str(exc)) from exc
    write_json_atomic(target, suite)
    emit(SuggestedSuite(suite=suite, path=target), fmt, text=_suggested_view)


def _suggested_view(result: SuggestedSuite) -> str:
    kinds: dict[str, int] = {}
    for expectation in result.suite["expectations"]:
        kinds[expectation["type"]] = kinds.get(expectation["type"], 0) + 1
    lines = [f"wrote {result.path} ({len(result.suite['expectations'])} expectations):"]
    lines += [
        f"  {count:3d} {kind.removeprefix('expect_')}" for kind, count in sorted(kinds.items())
    ]
    lines.append("review every range and value set (severity: warning) before committing")
    return "\n".join(lines)
