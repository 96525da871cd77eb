"""Command group ``slipway predict``: batch scoring of entity rows (see docs/models.md).

``slipway predict batch`` reads entity rows (Parquet or CSV), gets their features (point in
time from the offline store, or the latest from the online store with ``--online``), scores
them with a registered version and writes the rows with their answers, in resumable chunks
with a progress bar. ``--sagemaker`` creates a SageMaker Batch Transform job for the same rows
instead. Only typer and the standard library are imported at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli.feature_options import RepoOption, feature_repo
from slipway.cli.output import FormatOption, OutputFormat, emit

if TYPE_CHECKING:
    from model_build.registry.protocol import ModelRegistry

predict_app = typer.Typer(help="Score entity rows in batch.", no_args_is_help=True)


@predict_app.callback()
def predict_group() -> None:
    """Score entity rows in batch.

    A callback keeps ``slipway predict`` a group even while it has one command (Typer would
    otherwise collapse it into that command), so ``slipway predict batch`` is the command.
    """


@predict_app.command("batch")
def batch(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="MODEL:VERSION, or MODEL with --env (the version that environment serves).",
            show_default=False,
        ),
    ],
    input_path: Annotated[
        Path,
        typer.Option("--input", "-i", help="Entity rows: Parquet, or CSV (.csv).", dir_okay=False),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Where the scored rows go: Parquet, or CSV (.csv); with --sagemaker an s3:// "
            "prefix (default: s3://BUCKET/PREFIX/batch/JOB/output/).",
        ),
    ],
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Score with the version this environment's manifest serves.",
            show_default=False,
        ),
    ] = None,
    online: Annotated[
        bool,
        typer.Option("--online", help="Latest features from the online store (not point in time)."),
    ] = False,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows per chunk (the unit of resuming).")
    ] = 100_000,
    timestamp: Annotated[
        str, typer.Option("--timestamp-column", help="Event time column (offline features).")
    ] = "event_timestamp",
    threads: Annotated[
        int,
        typer.Option(
            "--threads", min=0, help="Model threads (0: the cores the load average leaves free)."
        ),
    ] = 0,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard chunks an interrupted run left.")
    ] = False,
    sagemaker: Annotated[
        bool,
        typer.Option(
            "--sagemaker",
            help="Create a SageMaker Batch Transform job instead (features are read here, the "
            "rows go to S3, the version's model scores them there).",
        ),
    ] = False,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket", help="S3 bucket [default: $SLIPWAY_S3_BUCKET].", show_default=False
        ),
    ] = None,
    role_arn: Annotated[
        str | None,
        typer.Option(
            "--role-arn",
            envvar="SLIPWAY_SAGEMAKER_ROLE_ARN",
            show_envvar=False,
            help="IAM role the job runs as [env: SLIPWAY_SAGEMAKER_ROLE_ARN].",
            show_default=False,
        ),
    ] = None,
    instance_type: Annotated[
        str, typer.Option("--instance-type", help="Batch Transform instance type.")
    ] = "ml.m5.large",
    repo: RepoOption = None,
    registry_path: Annotated[
        Path | None,
        typer.Option(
            "--registry-path", help="Use the local registry in this folder.", show_default=False
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Score entity rows with a registered version; resumable: run again after a crash.

    Each chunk is written to OUTPUT.parts/ as it finishes; a run started again with the same
    arguments skips the finished chunks and writes the same output. The output records the
    model version and digest and the feature service's name and version (Parquet schema
    metadata 'slipway.batch', or OUTPUT.metadata.json beside a CSV).
    """
    from model_build.registry.factory import open_registry
    from model_build.settings import load_settings

    local = {"registry": "local", "registry_path": registry_path} if registry_path else {}
    settings = load_settings(**local)
    registry = open_registry(settings)
    name, version = _version(model, env=env, registry=registry)
    store = feature_repo(repo, None)
    if sagemaker:
        from model_build.batch.transform import start_transform

        started = start_transform(
            registry=registry,
            model_name=name,
            version=version,
            repo=store,
            input_path=input_path,
            output_uri=output,
            bucket=bucket or settings.s3_bucket,
            prefix=settings.s3_prefix,
            role_arn=role_arn,
            image_uri=settings.image_uri,
            instance_type=instance_type,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            timestamp=timestamp,
            online=online,
        )
        emit(started, fmt)
        return
    from model_build.batch.job import prepare_batch, run_batch

    job = prepare_batch(
        registry=registry,
        model_name=name,
        version=version,
        repo=store,
        input_path=input_path,
        output=Path(output),
        online=online,
        chunk_rows=chunk_rows,
        timestamp=timestamp,
        fresh=fresh,
    )
    with _bar(
        total=len(job.chunks), rows=len(job.entities), enabled=fmt is OutputFormat.TEXT
    ) as bar:
        result = run_batch(job, repo=store, progress=bar, threads=threads)
    emit(result, fmt, text=_result_view)


def _version(model: str, *, env: str | None, registry: ModelRegistry) -> tuple[str, int]:
    """``(name, version)`` from MODEL:VERSION, or from ``env``'s manifest for MODEL."""
    name, sep, number = model.partition(":")
    if sep:
        if env is not None:
            raise typer.BadParameter("give MODEL:VERSION or --env, not both", param_hint="--model")
        if not number.isdigit():
            raise typer.BadParameter(
                f"{model!r}: the version must be a number", param_hint="--model"
            )
        return name, int(number)
    if env is None:
        raise typer.BadParameter(
            f"which version of {model!r}? Write {model}:N or add --env ENV", param_hint="--model"
        )
    from model_build.errors import BatchError
    from model_deploy.manifest.sources import serving_manifest

    loaded = serving_manifest(env, name)
    serving = loaded.manifest.model if loaded is not None else None
    if serving is None:
        raise BatchError(f"{env} serves no version of {name} (its manifest has model: null)")
    if serving.name != name:
        raise BatchError(f"{loaded.path if loaded else env} serves {serving.name}, not {name}")
    return name, int(serving.version)


class _Bar:
    """A :class:`~foundation.progress.StepReporter` drawing one rich progress bar of chunks."""

    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def started(self, name: str, label: str) -> None:
        """Show the chunk being scored."""
        self._progress.update(self._task, description=label)

    def finished(self, name: str, label: str, *, ok: bool, seconds: float) -> None:
        """Advance the bar by one chunk."""
        if ok:
            self._progress.update(self._task, advance=1, description=label)


class _BarContext:
    def __init__(self, *, total: int, rows: int, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), disable=not enabled,
        )  # fmt: skip
        self._task = self._progress.add_task(f"Scoring {rows} rows", total=total)

    def __enter__(self) -> _Bar:
        self._progress.__enter__()
        return _Bar(self._progress, self._task)

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        self._progress.__exit__(kind, exc, tb)


def _bar(*, total: int, rows: int, enabled: bool) -> _BarContext:
    return _BarContext(total=total, rows=rows, enabled=enabled)


def _result_view(result: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

    meta = result.metadata
    table = Table(show_header=False, title=f"Scored {result.rows} rows", title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = [
        ("output", str(result.output)),
        ("model", f"{meta['model']} ({meta['model_digest']})"),
        ("feature service", f"{meta['feature_service']} ({meta['feature_service_version']})"),
        ("features", meta["source"]),
        ("chunks", f"{result.chunks} ({result.resumed} done before)"),
        ("seconds", f"{result.seconds:.1f} (" + ", ".join(
            f"{k} {v:.1f}" for k, v in result.timings.items()) + ")"),
        ("predict rows/s", f"{result.predict_rows_per_second:,.0f}"),
    ]  # fmt: skip
    for key, value in rows:
        table.add_row(key, Text(value))
    return table
