"""The ``slipway monitor`` command group: monitoring runs and ground-truth labels.

``run`` checks a window of captured traffic of every deployment of ENV (or --model's) against
its version's baseline (data quality, drift, model quality when labels exist, feature
freshness); ``labels`` ingests ground truth. The work is in :mod:`slipway.monitor`; this
module parses options and draws results. Exit codes of ``run``: 0 no violation (also a run
with nothing to analyse: status Failed, with a warning line), 1 violations or an error (one
line; with several deployments each failed one is a Failed result naming its error, the
others still run, and one error line per failure), 2 unknown environment or model or a bad
option.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from slipway.cli.output import FormatOption, OutputFormat, emit
from slipway.cli.params import time_param

monitor_app = typer.Typer(
    help="Monitor deployments: drift, data quality, model quality, feature freshness.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_CODES_HELP = (
    "Exit codes: 0 no violation (or nothing to analyse: status Failed, a warning says so); "
    "1 violations (data quality, drift, model quality) or an error; 2 unknown environment or "
    "model, or a bad option. Files: constraint_violations.json, statistics.json, "
    "summary.json, report.html, drift.html (and model_quality_violations.json with labels) "
    "in --out, default .slipway/monitor/runs/ENV/MODEL/<UTC time>/ (SLIPWAY_MONITOR_DIR)."
)

EnvArgument = Annotated[
    str,
    typer.Argument(help="Environment (every deployment in it), or ENV/MODEL.", show_default=False),
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Only this model's deployment of ENV.", show_default=False),
]


@monitor_app.command(epilog=EXIT_CODES_HELP)
def run(
    env: EnvArgument,
    model: ModelOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Window start: a duration back from --until (24h, 7d) or an ISO 8601 time "
            "(default: the manifest's monitoring.window, else 24h).",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Window end, ISO 8601 (default: now).", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder of the run's files (with several deployments: DIR/ENV/MODEL).",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Baseline folder (statistics.json, constraints.json, ...) to use instead of "
            "the registry's.",
            file_okay=False,
            exists=True,
            show_default=False,
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Check captured traffic against the served version's baseline; write the reports.

    Data quality (Model Monitor's constraint checks), drift per feature and of the
    prediction (Evidently, methods and thresholds from the manifest's monitoring block),
    model quality when labels were ingested (compared with the registered metrics), and the
    freshness of the online feature views. --format json prints the summary: one result with
    --model, else {"results": [...]}; `slipway ci retrain --result` reads it.
    """
    from slipway.monitor.service import monitor_run
    from slipway.monitor.view import run_view

    _quiet_third_party_deprecations()
    until_at = time_param(until, option="--until")
    _check_since(since)
    deployer = _deployer_for(env, model)
    result = monitor_run(
        env=env, model=model, since=since, until=until_at, out=out, baseline_dir=baseline,
        deployer=deployer,
    )  # fmt: skip
    for item in result.results:
        if item.status == "Failed" and item.error is None:
            reason = item.failure_reason or (item.result.failure_reason if item.result else None)
            _warn(f"{item.deployment.key}: nothing analysed (status Failed: {reason})")
    emit(result, fmt, text=run_view)
    for line in result.errors:
        _error(line)
    if result.has_violations or result.errors:
        raise typer.Exit(1)


@monitor_app.command()
def labels(
    env: EnvArgument,
    model: Annotated[
        str,
        typer.Option("--model", "-m", help="The model's deployment of ENV.", show_default=False),
    ],
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            help="Labels: .jsonl (SageMaker ground-truth records, or {id, label} objects) or "
            ".csv (an id column: inference_id, event_id or id; and label).",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Ingest ground truth for a deployment (joined by inferenceId, else eventId).

    Written in SageMaker's ground-truth layout under SLIPWAY_MONITOR_GROUND_TRUTH_DIR
    (default .slipway/monitor/ground-truth)/<endpoint>/yyyy/mm/dd/hh/. Re-ingesting a file
    adds nothing; a file with malformed lines is refused, naming them by line number.
    """
    from slipway.monitor.service import labels_ingest
    from slipway.monitor.view import ingest_view

    deployer = _deployer_for(env, model)
    result = labels_ingest(env=env, model=model, file=file, deployer=deployer)
    emit(result, fmt, text=ingest_view)


def _quiet_third_party_deprecations() -> None:
    """Third-party libraries' own deprecation notices (Evidently's imports) are not shown.

    Libraries loaded during a run reset the warning filters (``simplefilter("once")``), so
    the notices are dropped where they are shown: a ``DeprecationWarning`` raised inside
    ``site-packages``. Every other warning is shown as usual.
    """
    import warnings

    shown = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, DeprecationWarning) and "site-packages" in filename:
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _check_since(value: str | None) -> None:
    """A bad --since is a usage error (exit 2): neither a duration nor an ISO 8601 time."""
    from foundation.times import TimeFormatError, parse_duration, parse_time

    if value is None:
        return
    try:
        parse_duration(value, option="--since")
    except TimeFormatError:
        try:
            parse_time(value, option="--since")
        except TimeFormatError as exc:
            raise typer.BadParameter(
                f"not a duration (24h, 7d) nor an ISO 8601 time: {value!r}", param_hint="--since"
            ) from exc


def _deployer_for(env: str, model: str | None) -> Any:
    """The deployer, once ENV and --model are known to name deployments (else exit 2)."""
    from model_deploy.errors import ManifestError
    from model_deploy.service import Deployer

    deployer = Deployer()
    try:
        keys = deployer.select(env, model=model)
    except ManifestError as exc:
        _error(str(exc))
        raise typer.Exit(2) from exc
    if not keys:
        _error(f"{env} has no manifest")
        raise typer.Exit(2)
    return deployer


def _error(message: str) -> None:
    from rich.console import Console
    from rich.text import Text

    line = " ".join(message.split())
    Console(stderr=True, highlight=False).print(
        Text.assemble(("error: ", "bold red"), line), soft_wrap=True
    )


def _warn(message: str) -> None:
    print(f"warning: {' '.join(message.split())}", file=sys.stderr, flush=True)
