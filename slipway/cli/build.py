"""Command group ``slipway build``: run the build pipeline locally or on SageMaker, or compile it.

The gate compares the candidate with the version serving in an environment, which that
environment's manifest names: it is read here with ``model_deploy``'s loader
(:func:`serving_from_manifest`), never by the build. Every fallback is printed as a warning.
Failures are ``SlipwayError`` subclasses (``GateFailedError`` when the gate blocks the
candidate); the root command prints them as one line. Only typer and the standard library are
imported at start-up; the build is imported inside the commands.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli.feature_options import RepoOption, feature_repo

if TYPE_CHECKING:
    from model_build.pipeline.local_runner import BuildResult
    from model_build.pipeline.serving import ServingModel
    from model_build.pipeline.steps.gate import NoServingModel
    from model_build.registry.protocol import ModelRegistry
    from model_build.sagemaker.launch import Launched, Target
    from model_build.settings import BuildSettings

build_app = typer.Typer(help="Build, evaluate and register models.", no_args_is_help=True)

DEFAULT_PROD_MANIFEST = Path("model_deploy/environments/prod.yaml")

ParamsOption = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="Build parameters file (strict YAML) \\[default: model_build/params.yaml].",
        dir_okay=False,
        show_default=False,
    ),
]
BucketOption = Annotated[
    str | None,
    typer.Option(
        "--bucket",
        help="S3 bucket for code, the feature repo and step outputs "
        "\\[default: $SLIPWAY_S3_BUCKET].",
        show_default=False,
    ),
]
RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role-arn",
        envvar="SLIPWAY_SAGEMAKER_ROLE_ARN",
        help="IAM role ARN the pipeline and its jobs run as \\[env: SLIPWAY_SAGEMAKER_ROLE_ARN].",
        show_default=False,
        show_envvar=False,
    ),
]
ImageOption = Annotated[
    str | None,
    typer.Option(
        "--image-uri",
        help="Slipway image (ECR URI) the jobs and the model run in "
        "\\[default: $SLIPWAY_IMAGE_URI].",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="AWS region \\[default: $SLIPWAY_AWS_REGION or us-east-1].",
        show_default=False,
    ),
]


@build_app.command("run")
def run(
    params: ParamsOption = None,
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
            help="Use the local registry in this folder \\[default: the configured registry].",
            show_default=False,
        ),
    ] = None,
    prod_manifest: Annotated[
        Path,
        typer.Option(
            "--prod-manifest",
            help="Manifest of the environment whose serving version (model.version) the gate "
            "compares with; absent = nothing to compare with (a warning).",
        ),
    ] = DEFAULT_PROD_MANIFEST,
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
            help="Clock of the data gate's freshness checks, ISO 8601 \\[default: now].",
            show_default=False,
        ),
    ] = None,
    bucket: BucketOption = None,
    role_arn: RoleOption = None,
    image_uri: ImageOption = None,
    region: RegionOption = None,
) -> None:
    """Validate, build the training set, train, evaluate, gate and register a model.

    Locally (the default) every step runs here with progress, and the run folder holds the
    training set statistics, the bundle, evaluation.json, plots, gate.json and run.json. With
    --sagemaker the same steps are compiled to a SageMaker pipeline, which is upserted and
    started (code and feature repo are uploaded to the bucket first).
    """
    from model_build.pipeline.params import DEFAULT_PARAMS_PATH, load_params
    from model_build.registry.factory import open_registry
    from model_build.settings import load_settings

    params_path = params or DEFAULT_PARAMS_PATH
    local = {"registry": "local", "registry_path": registry_path} if registry_path else {}
    settings = load_settings(**local)
    registry = open_registry(settings)
    loaded = load_params(path=params_path)
    feature_store = feature_repo(repo, None)
    serving = serving_from_manifest(
        registry=registry,
        model_name=loaded.model.name,
        manifest=prod_manifest,
        compare=compare_prod,
    )
    clock = _parse_time(now)
    _say_serving(serving)
    if sagemaker:
        from model_build.pipeline.steps.register import git_sha
        from model_build.sagemaker.launch import launch_build

        options = {"bucket": bucket, "role_arn": role_arn, "image_uri": image_uri, "region": region}
        target = _target(settings, **options, required=True)
        launched = launch_build(
            params=loaded,
            target=target,
            repo_path=feature_store.path,
            serving=serving,
            git_commit=git_sha(),
            now=clock,
            endpoint_url=settings.aws_endpoint_url,
        )
        _say_launched(launched, target=target)
        return
    from model_build.pipeline.local_runner import run_local
    from model_build.pipeline.steps.gate import NoServingModel
    from slipway.views.progress import rich_steps

    with rich_steps(console=_console()) as steps:
        result = run_local(
            repo=feature_store,
            params_path=params_path,
            registry=registry,
            run_dir=run_dir,
            serving=serving,
            now=clock,
            progress=steps,
        )
    shown = {serving.reason} if isinstance(serving, NoServingModel) else set()
    _console().print(_result_view(result, shown=shown))


@build_app.command("compile")
def compile_definition(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the definition JSON here \\[default: stdout].", dir_okay=False
        ),
    ] = None,
    params: ParamsOption = None,
    bucket: BucketOption = None,
    role_arn: RoleOption = None,
    image_uri: ImageOption = None,
    region: RegionOption = None,
) -> None:
    """Write the SageMaker pipeline definition JSON, offline (no credentials, no network).

    Unset bucket, role and image fall back to example placeholders, so the output can be
    reviewed or diffed anywhere; the same inputs always give the same bytes.
    """
    from foundation.files import write_text_atomic
    from model_build.pipeline.params import DEFAULT_PARAMS_PATH, load_params
    from model_build.sagemaker.compile import compile_pipeline, definition_json, step_names
    from model_build.settings import load_settings

    loaded = load_params(path=params or DEFAULT_PARAMS_PATH)
    target = _target(
        load_settings(), bucket=bucket, role_arn=role_arn, image_uri=image_uri, region=region
    )
    definition = compile_pipeline(params=loaded, **dataclasses.asdict(target))
    text = definition_json(definition)
    if out is None:
        typer.echo(text, nl=False)
        return
    write_text_atomic(out, text)
    steps = ", ".join(step_names(definition))
    _console().print(f"Wrote {out} ({len(text)} bytes): {steps}")


def serving_from_manifest(
    *, registry: ModelRegistry, model_name: str, manifest: Path, compare: bool = True
) -> ServingModel | NoServingModel:
    """The version of ``model_name`` serving in the environment ``manifest`` describes.

    The manifest is read with ``model_deploy``'s loader, so it is validated like any deploy;
    the environment is the one it names. No manifest, or one serving another model, is a
    :class:`NoServingModel` with a warning (the gate then runs its absolute checks only);
    ``model: null`` (nothing deployed yet) and ``compare=False`` are one without.

    Raises:
        ManifestError: The manifest is invalid.
        PipelineError: It names a version the registry lacks.
    """
    from model_build.pipeline.serving import find_serving
    from model_build.pipeline.steps.gate import NoServingModel
    from model_deploy.manifest.loader import load_manifest

    absolute = "the gate applies its absolute thresholds only"
    if not compare:
        return NoServingModel(reason=f"comparison with {manifest.stem} is off; {absolute}")
    if not manifest.is_file():
        return NoServingModel(
            reason=f"{manifest} not found: no {manifest.stem} version to compare with; {absolute}",
            warning=True,
        )
    loaded = load_manifest(path=manifest)
    serving = loaded.manifest.model
    if serving is None:
        return NoServingModel(reason=f"{loaded.env} serves no model yet ({manifest}); {absolute}")
    if serving.name != model_name:
        return NoServingModel(
            reason=f"{manifest} serves model {serving.name!r}, not {model_name!r}; {absolute}",
            warning=True,
        )
    return find_serving(
        registry=registry,
        model_name=model_name,
        version=serving.version,
        environment=loaded.env,
        source=str(manifest),
    )


def _say_serving(serving: ServingModel | NoServingModel) -> None:
    """One line on what the gate compares with (a warning when it is a fallback)."""
    from rich.text import Text

    from model_build.pipeline.serving import ServingModel

    if isinstance(serving, ServingModel):
        where = f"Serving in {serving.environment}: "
        line = Text.assemble(where, (serving.version.ref, "bold"), f" (from {serving.source})")
    else:
        line = _warning(serving.reason) if serving.warning else Text(serving.reason, style="dim")
    _console().print(line, highlight=False)


def _result_view(result: BuildResult, *, shown: set[str]) -> Any:
    """The result table, then every warning not already printed."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Build {result.run_id}: {result.status}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("version", result.version.ref if result.version else "(not registered)")
    table.add_row("artifact", result.artifact_digest)
    table.add_row("data", result.data_hash)
    for name in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "f1"):
        if name in result.metrics:
            table.add_row(name, f"{result.metrics[name]:.4f}")
    table.add_row("gate", Text(result.gate.summary()))
    table.add_row("run folder", Text(str(result.run_dir)))
    table.add_row("seconds", f"{result.seconds:.1f}")
    return Group(table, *(_warning(line) for line in result.warnings if line not in shown))


def _warning(line: str) -> Any:
    from rich.text import Text

    return Text.assemble(("warning: ", "bold yellow"), line)


def _say_launched(launched: Launched, *, target: Target) -> None:
    """What was uploaded and started (stderr), and the ARNs as one JSON line (stdout)."""
    started, console = launched.run, _console()
    verb = "Created" if started.created else "Updated"
    console.print(f"Uploaded {len(launched.uploaded)} files to s3://{target.bucket}/")
    console.print(f"{verb} pipeline {started.pipeline_arn}")
    console.print(f"Started {started.execution_arn}: {started.status}")
    typer.echo(
        json.dumps({"pipeline_arn": started.pipeline_arn, "execution_arn": started.execution_arn})
    )


def _target(
    settings: BuildSettings,
    *,
    bucket: str | None,
    role_arn: str | None,
    image_uri: str | None,
    region: str | None,
    required: bool = False,
) -> Target:
    chosen = {
        "bucket": bucket or settings.s3_bucket,
        "role_arn": role_arn,
        "image_uri": image_uri or settings.image_uri,
    }
    missing = [name for name, value in chosen.items() if not value]
    if required and missing:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in missing)
        raise typer.BadParameter(f"--sagemaker needs {flags} (or their environment variables)")
    from model_build.sagemaker.compile import PLACEHOLDERS
    from model_build.sagemaker.launch import Target

    resolved = {name: value or PLACEHOLDERS[name] for name, value in chosen.items()}
    return Target(**resolved, region=region or settings.aws_region)


def _parse_time(value: str | None) -> datetime | None:
    from foundation.times import TimeFormatError, parse_time

    try:
        return parse_time(value, option="--now")
    except TimeFormatError as exc:
        raise typer.BadParameter(str(exc), param_hint="--now") from exc


def _console() -> Any:
    """The console every progress and result line goes to: stderr (stdout stays for JSON)."""
    from rich.console import Console

    return Console(stderr=True)
