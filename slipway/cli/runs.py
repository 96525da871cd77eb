"""Command group ``slipway runs``: the tracked build runs (MLflow), listed, shown and compared.

The store is the one builds track into (``SLIPWAY_TRACKING_URI``, else the embedded SQLite
store beside the registry; see docs/tracking.md). A run is named by its MLflow run id or by
Slipway's run id (the run folder's name). MLflow is imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli.output import FormatOption, OutputFormat, emit

if TYPE_CHECKING:
    from model_build.tracking.mlflow_tracker import MlflowTracker
    from model_build.tracking.runs import RunComparison, RunDetail, RunSummary

runs_app = typer.Typer(
    help="Tracked build runs (MLflow): list, show, compare.", no_args_is_help=True
)

TrackingUriOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking store [default: $SLIPWAY_TRACKING_URI, else the embedded "
        "store beside the registry].",
        show_default=False,
    ),
]
RegistryPathOption = Annotated[
    Path | None,
    typer.Option(
        "--registry-path",
        help="Local registry folder whose sibling 'tracking' folder is the embedded store.",
        show_default=False,
    ),
]
RunArg = Annotated[
    str, typer.Argument(help="MLflow run id, or Slipway's run id.", show_default=False)
]


class RunList(list["RunSummary"]):
    """The runs ``runs list`` found, newest first."""

    def to_json(self) -> list[dict[str, Any]]:
        """Every run as plain JSON."""
        from slipway.cli.output import to_jsonable

        return [to_jsonable(run) for run in self]


@runs_app.command("list")
def list_runs(
    model: Annotated[
        str | None,
        typer.Argument(help="Model name; leave out for every model.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Most runs.")] = 20,
    tracking_uri: TrackingUriOption = None,
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """List tracked build runs, newest first: status, registered version, headline metrics."""
    from model_build.tracking.runs import list_runs as search

    tracker = _tracker(tracking_uri, registry_path)
    emit(RunList(search(tracker, model=model, limit=limit)), fmt, text=_list_view)


@runs_app.command("show")
def show(
    run: RunArg,
    tracking_uri: TrackingUriOption = None,
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show one run: tags (git commit, data hash...), params, metrics, artifacts, its model."""
    from model_build.tracking.runs import get_run

    emit(get_run(_tracker(tracking_uri, registry_path), run), fmt, text=_show_view)


@runs_app.command("compare")
def compare(
    a: Annotated[str, typer.Argument(help="Baseline run.", show_default=False)],
    b: Annotated[str, typer.Argument(help="Candidate run.", show_default=False)],
    tracking_uri: TrackingUriOption = None,
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Compare two runs: metric deltas (B - A, directions from the metric registry), params."""
    from model_build.tracking.runs import compare_runs

    emit(compare_runs(_tracker(tracking_uri, registry_path), a, b), fmt, text=_compare_view)


def _tracker(uri: str | None, registry_path: Path | None) -> MlflowTracker:
    from model_build.settings import load_settings
    from model_build.tracking.mlflow_tracker import MlflowTracker
    from model_build.tracking.store import resolve_store

    local = {"registry": "local", "registry_path": registry_path} if registry_path else {}
    settings = load_settings(**local, tracking_uri=uri)
    return MlflowTracker(store=resolve_store(settings))


def _headline(run: RunSummary, limit: int = 3) -> str:
    from foundation.metrics import metrics_for
    from model_bundle.task import Task

    names = metrics_for(Task(run.task)) if run.task in set(Task) else sorted(run.metrics)
    shown = [n for n in names if n in run.metrics][:limit]
    return " ".join(f"{n}={run.metrics[n]:.4g}" for n in shown)


def _list_view(result: RunList) -> Any:
    from rich.table import Table
    from rich.text import Text

    if not result:
        return "no tracked runs"
    table = Table("run", "model", "started (UTC)", "status", "version", "metrics", "MLflow run id")
    for run in result:
        table.add_row(
            Text(run.name),
            Text(run.model_name),
            f"{run.started:%Y-%m-%d %H:%M:%S}",
            run.status or run.state,
            run.registered or "-",
            Text(_headline(run)),
            run.run_id,
        )
    return table


def _show_view(result: RunDetail) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    run = result.summary
    facts = Table(show_header=False, title=f"run {run.name}", title_justify="left")
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    rows = [
        ("model", run.model_name),
        ("status", f"{run.status or '-'} (MLflow {run.state})"),
        ("registered", run.registered or "-"),
        ("MLflow run id", run.run_id),
        ("tracking store", result.tracking_uri),
        ("run page", run.run_url or "-"),
        ("logged model", ", ".join(result.models) or "-"),
        ("git commit", run.git_commit or "-"),
        ("data hash", result.tags.get("slipway.data_hash", "-")),
        ("feature service", result.tags.get("slipway.feature_service", "-")),
        ("slipway", result.tags.get("slipway.slipway_version", "-")),
    ]
    for key, value in rows:
        facts.add_row(key, Text(value))
    metrics = Table("metric", "value", title="metrics", title_justify="left")
    for key, number in sorted(run.metrics.items()):
        metrics.add_row(Text(key), f"{number:.6g}")
    params = Table("param", "value", title="params", title_justify="left")
    for key, value in sorted(result.params.items()):
        params.add_row(Text(key), Text(value))
    artifacts = Text("artifacts: " + ", ".join(result.artifacts))
    return Group(facts, metrics, params, artifacts)


def _compare_view(result: RunComparison) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    a, b = result.a, result.b
    table = Table("metric", a.name, b.name, "delta (B-A)", "", title=f"{a.name} vs {b.name}")
    for d in result.deltas:
        table.add_row(
            Text(d.name),
            "-" if d.a is None else f"{d.a:.6g}",
            "-" if d.b is None else f"{d.b:.6g}",
            "-" if d.delta is None else f"{d.delta:+.4g}",
            d.verdict,
        )
    if not result.params:
        return Group(table, Text("same params"))
    params = Table("param", a.name, b.name, title="params that differ")
    for key, (x, y) in result.params.items():
        params.add_row(Text(key), Text(json.dumps(x)), Text(json.dumps(y)))
    return Group(table, params)
