"""Command group ``slipway build``: run the build pipeline locally or on SageMaker, or compile it.

Each model is a folder ``model_build/models/<name>/model.yaml`` (see docs/models.md); ``--model``
picks one by name or path (repeatable) and no ``--model`` means every model folder. The gate
compares the candidate with the version serving in an environment (prod by default), which
that environment's manifest of the model names: it is found and read here with
``model_deploy.manifest.sources.serving_manifest`` (:func:`serving_from_manifest`), so the
environment is its folder, its rules come from ``environments.yaml`` and the manifest may
have any file name; the build never parses manifests. Every fallback is printed as a warning.
Failures are ``SlipwayError`` subclasses (``GateFailedError`` when the gate blocks the
candidate); the root command prints them as one line. Only typer and the standard library are
imported at start-up; the build is imported inside the commands.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli.build_serving import (
    console,
    default_serving_folder,
    say_serving,
    say_warning,
    serving_from_manifest,
)
from slipway.cli.feature_options import RepoOption, feature_repo
from slipway.cli.output import FormatOption, OutputFormat, emit
from slipway.cli.params import time_param

if TYPE_CHECKING:
    from model_build.definition.schema import ModelDefinition
    from model_build.pipeline.batch import BatchReport
    from model_build.pipeline.local_runner import BuildResult
    from model_build.pipeline.serving import ServingModel
    from model_build.pipeline.steps.gate import NoServingModel
    from model_build.sagemaker.launch import Launched, Target

build_app = typer.Typer(help="Build, evaluate and register models.", no_args_is_help=True)

ModelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="Model to build: a folder name under --models-dir, or a path to a model folder or "
        "its model.yaml; repeat for several [default: every model folder].",
        show_default=False,
    ),
]
PROJECT_MODELS_DIR = Path("model_build") / "models"
"""The project's model folders, relative to the current directory (the project root)."""

ModelsDirOption = Annotated[
    Path | None,
    typer.Option(
        "--models-dir",
        envvar="SLIPWAY_MODELS_DIR",
        help="Folder of model folders (<name>/model.yaml) [default: $SLIPWAY_MODELS_DIR, else "
        "./model_build/models of the project in the current directory; never the examples "
        "bundled with Slipway].",
        file_okay=False,
        show_default=False,
        show_envvar=False,
    ),
]
BucketOption = Annotated[
    str | None,
    typer.Option(
        "--bucket",
        help="S3 bucket for code, the feature repo and step outputs [default: $SLIPWAY_S3_BUCKET].",
        show_default=False,
    ),
]
RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role-arn",
        envvar="SLIPWAY_SAGEMAKER_ROLE_ARN",
        help="IAM role ARN the pipeline and its jobs run as [env: SLIPWAY_SAGEMAKER_ROLE_ARN].",
        show_default=False,
        show_envvar=False,
    ),
]
ImageOption = Annotated[
    str | None,
    typer.Option(
        "--image-uri",
        help="Slipway image (ECR URI) the jobs and the model run in [default: $SLIPWAY_IMAGE_URI].",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="AWS region [default: $SLIPWAY_AWS_REGION or us-east-1].",
        show_default=False,
    ),
]


@build_app.command("run")
def run(
    model: ModelOption = None,
    models_dir: ModelsDirOption = None,
    run_dir: Annotated[
        Path,
        typer.Option(
            "--run-dir", help="Parent folder of run folders (one per run).", file_okay=False
        ),
    ] = Path(".slipway/runs"),
    sagemaker: Annotated[
        bool,
        typer.Option(
            "--sagemaker",
            help="Compile, upsert and start the SageMaker pipeline instead of running locally.",
        ),
    ] = False,
    repo: RepoOption = None,
    registry_path: Annotated[
        Path | None,
        typer.Option(
            "--registry-path",
            help="Use the local registry in this folder [default: the configured registry].",
            show_default=False,
        ),
    ] = None,
    prod_manifest: Annotated[
        Path | None,
        typer.Option(
            "--prod-manifest",
            help="Environment folder (or a manifest file in it) whose manifest of the model "
            "names the serving version (model.version) the gate compares with; the folder "
            "is the environment, environments.yaml beside its parent declares it; absent = "
            "nothing to compare with (a warning) "
            "[default: $SLIPWAY_DEPLOY_MANIFESTS_DIR/prod, model_deploy/environments/prod].",
            show_default=False,
        ),
    ] = None,
    compare_prod: Annotated[
        bool,
        typer.Option(
            "--compare-prod/--no-compare-prod",
            help="Gate on 'not worse than the version serving there' when there is one.",
        ),
    ] = True,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Clock of the data gate's freshness checks, ISO 8601 [default: now].",
            show_default=False,
        ),
    ] = None,
    track: Annotated[
        bool | None,
        typer.Option(
            "--track/--no-track",
            help="Track the run in MLflow [default: $SLIPWAY_TRACKING, on].",
            show_default=False,
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="MLflow tracking store: sqlite:///..., http(s)://... or a SageMaker MLflow "
            "tracking server ARN [default: $SLIPWAY_TRACKING_URI, else the embedded store "
            "beside the registry].",
            show_default=False,
        ),
    ] = None,
    bucket: BucketOption = None,
    role_arn: RoleOption = None,
    image_uri: ImageOption = None,
    region: RegionOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Validate, build the training set, check the label, train, evaluate, gate and register.

    Every model folder is built in turn (or the --model ones); a failing model does not stop
    the others, and the command fails naming each one that failed. Locally (the default)
    every step runs here with progress, and each run folder holds the training set
    statistics, the bundle, evaluation.json, plots, SHAP explanations, gate.json and run.json,
    and the run is an MLflow run (parameters, metrics, artifacts, the bundle as its model;
    see docs/tracking.md). With --sagemaker
    the same steps are compiled to a SageMaker pipeline per model, which is upserted and
    started (code and feature repo are uploaded to the bucket first). --format json prints
    one document listing every build (model, task, status, version, metrics).
    """
    from model_build.definition.loader import load_definition
    from model_build.pipeline.batch import build_each
    from model_build.registry.factory import open_registry
    from model_build.settings import load_settings

    paths = _model_files(model, models_dir)
    local = {"registry": "local", "registry_path": registry_path} if registry_path else {}
    settings = load_settings(**local, tracking=track, tracking_uri=tracking_uri)
    registry = open_registry(settings)
    feature_store = feature_repo(repo, None)
    clock = time_param(now, option="--now")

    def serving_for(definition: ModelDefinition) -> ServingModel | NoServingModel:
        serving = serving_from_manifest(
            registry=registry,
            model_name=definition.name,
            manifest=prod_manifest or default_serving_folder(),
            compare=compare_prod,
        )
        say_serving(serving)
        return serving

    if sagemaker:
        from model_build.errors import PipelineError
        from model_build.pipeline.steps.register import git_sha
        from model_build.sagemaker.launch import launch_build, resolve_target

        options = {"bucket": bucket, "role_arn": role_arn, "image_uri": image_uri, "region": region}
        try:
            target = resolve_target(settings, **options, required=True)
        except PipelineError as exc:  # a usage error: options are missing
            raise typer.BadParameter(str(exc)) from exc
        for path in paths:
            definition = load_definition(path=path)
            launched = launch_build(
                model=definition,
                target=target,
                repo_path=feature_store.path,
                serving=serving_for(definition),
                git_commit=git_sha(),
                now=clock,
                endpoint_url=settings.aws_endpoint_url,
            )
            _say_launched(launched, target=target)
        return
    from model_build.pipeline.local_runner import run_local
    from model_build.pipeline.steps.gate import NoServingModel
    from model_build.tracking.store import open_tracker
    from slipway.views.progress import rich_steps

    tracker = open_tracker(settings)

    def build_one(path: Path) -> BuildResult:
        definition = load_definition(path=path)
        serving = serving_for(definition)
        with rich_steps(console=console()) as steps:
            result = run_local(
                repo=feature_store,
                model_path=path,
                registry=registry,
                run_dir=run_dir,
                serving=serving,
                now=clock,
                progress=steps,
                tracker=tracker,
            )
        shown = {serving.reason} if isinstance(serving, NoServingModel) else set()
        if fmt is OutputFormat.TEXT:
            console().print(_result_view(result))
            for line in result.warnings:
                if line not in shown:
                    say_warning(line)
        return result

    report = build_each(paths, build_one)
    if fmt is OutputFormat.JSON:
        emit(report, fmt)
    elif len(report.outcomes) > 1:
        console().print(_batch_view(report))
    report.raise_for_failures()


@build_app.command("compile")
def compile_definition(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the definition JSON here [default: stdout].", dir_okay=False
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model to compile: a folder name under --models-dir, or a path to a model "
            "folder or its model.yaml [default: the only model folder].",
            show_default=False,
        ),
    ] = None,
    models_dir: ModelsDirOption = None,
    bucket: BucketOption = None,
    role_arn: RoleOption = None,
    image_uri: ImageOption = None,
    region: RegionOption = None,
) -> None:
    """Write one model's SageMaker pipeline definition JSON, offline (no credentials, no network).

    Unset bucket, role and image fall back to example placeholders, so the output can be
    reviewed or diffed anywhere; the same inputs always give the same bytes. With several
    model folders, --model picks one.
    """
    from foundation.files import write_text_atomic
    from model_build.definition.loader import load_definition
    from model_build.sagemaker.compile import compile_pipeline, definition_json, step_names
    from model_build.sagemaker.launch import resolve_target
    from model_build.settings import load_settings

    paths = _model_files([model] if model else None, models_dir)
    if len(paths) > 1:
        names = ", ".join(path.parent.name for path in paths)
        raise typer.BadParameter(f"several models ({names}): pick one", param_hint="--model")
    loaded = load_definition(path=paths[0])
    target = resolve_target(
        load_settings(), bucket=bucket, role_arn=role_arn, image_uri=image_uri, region=region
    )
    definition = compile_pipeline(model=loaded, **dataclasses.asdict(target))
    text = definition_json(definition)
    if out is None:
        typer.echo(text, nl=False)
        return
    write_text_atomic(out, text)
    steps = ", ".join(step_names(definition))
    console().print(f"Wrote {out} ({len(text)} bytes) for {loaded.name}: {steps}")


def _model_files(selectors: list[str] | None, models_dir: Path | None) -> list[Path]:
    """The ``model.yaml`` files ``--model`` picks in ``--models-dir`` (see :data:`ModelsDirOption`).

    The default folder is the current project's ``./model_build/models``, so a project made
    by ``slipway init`` builds its own models, never Slipway's bundled examples.

    Raises:
        typer.BadParameter: No ``--model`` and no models folder here.
        DefinitionError: A selector names no model, or the folder holds none.
    """
    from model_build.definition.catalog import find_models

    root = PROJECT_MODELS_DIR if models_dir is None else models_dir
    if not selectors and not root.is_dir():
        raise typer.BadParameter(
            f"no folder {root} in {Path.cwd()}: run in a Slipway project (slipway init), or "
            "give --models-dir or --model PATH",
            param_hint="--models-dir",
        )
    return find_models(selectors, root=root)


def _result_view(result: BuildResult) -> Any:
    """The result table (its warnings are printed after it, unwrapped)."""
    from rich.table import Table
    from rich.text import Text

    from foundation.metrics import format_metric, metrics_for

    title = f"Build {result.run_id}: {result.model_name} ({result.task}) {result.status}"
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("version", result.version.ref if result.version else "(not registered)")
    table.add_row("artifact", result.artifact_digest)
    table.add_row("data", result.data_hash)
    for name in metrics_for(result.task)[:6]:
        if name in result.metrics:
            table.add_row(name, format_metric(name, result.metrics[name]))
    table.add_row("gate", Text(result.gate.summary()))
    if result.bias is not None:
        shown_bias = ", ".join(
            f"{k} {v:.3f}" for k, v in result.bias.metrics.items() if v is not None
        )
        table.add_row(f"bias ({result.bias.attribute})", Text(shown_bias or "-"))
    table.add_row("run folder", Text(str(result.run_dir)))
    if result.shap_plot is not None:
        table.add_row("SHAP plot", Text(str(result.shap_plot)))
    if result.tracking is not None:
        link = result.tracking
        table.add_row("MLflow run", Text(f"{link.run_id} ({link.tracking_uri})"))
        if link.run_url:
            table.add_row("run page", Text(link.run_url))
    table.add_row("seconds", f"{result.seconds:.1f}")
    return table


def _batch_view(report: BatchReport) -> Any:
    """One row per model of a batch: status, version or error."""
    from rich.table import Table
    from rich.text import Text

    table = Table("model", "task", "status", "version or error", title="Builds")
    for outcome in report.outcomes:
        doc = outcome.to_json()
        detail = doc.get("version") or doc.get("error") or "(not registered)"
        table.add_row(doc["model"], doc.get("task") or "-", doc["status"], Text(str(detail)))
    return table


def _say_launched(launched: Launched, *, target: Target) -> None:
    """What was uploaded and started (stderr), and the ARNs as one JSON line (stdout)."""
    started, stderr = launched.run, console()
    verb = "Created" if started.created else "Updated"
    stderr.print(f"Uploaded {len(launched.uploaded)} files to s3://{target.bucket}/")
    stderr.print(f"{verb} pipeline {started.pipeline_arn}")
    stderr.print(f"Started {started.execution_arn}: {started.status}")
    typer.echo(
        json.dumps({"pipeline_arn": started.pipeline_arn, "execution_arn": started.execution_arn})
    )
