"""Command group ``slipway build``: run the build pipeline locally or on SageMaker, or compile it.

Failures raise ``BuildError`` (``GateFailedError`` when the gate blocks the candidate) or
``ServicesError`` (data gate, feature repo); the root command prints them as one line and exits
non-zero.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from model_build.pipeline.params import DEFAULT_PARAMS_PATH, BuildParams, load_params
from model_build.registry.factory import open_registry
from model_build.settings import BuildSettings, load_settings

build_app = typer.Typer(help="Build, evaluate and register models.", no_args_is_help=True)
console = Console(stderr=True)

DEFAULT_PROD_MANIFEST = Path("model_deploy/environments/prod.yaml")
_PLACEHOLDERS = {
    "bucket": "slipway-artifacts",
    "role_arn": "arn:aws:iam::123456789012:role/slipway-sagemaker",
    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway:latest",
}

ParamsOption = Annotated[
    Path,
    typer.Option("--params", help="Build parameters file (strict YAML).", dir_okay=False),
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
    params: ParamsOption = DEFAULT_PARAMS_PATH,
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
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="Feast feature repo folder [default: $SLIPWAY_FEATURE_REPO or ./feature_repo].",
            show_default=False,
        ),
    ] = None,
    registry_path: Annotated[
        Path | None,
        typer.Option(
            "--registry-path",
            help="Use the local registry in this folder [default: the configured registry].",
            show_default=False,
        ),
    ] = None,
    prod_manifest: Annotated[
        Path,
        typer.Option(
            "--prod-manifest",
            help="Prod manifest naming the serving version (model.version); absent = none.",
        ),
    ] = DEFAULT_PROD_MANIFEST,
    compare_prod: Annotated[
        bool,
        typer.Option(
            "--compare-prod/--no-compare-prod",
            help="Gate on 'not worse than the version serving in prod' when there is one.",
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
    from feature_store.repo import FeatureRepo
    from feature_store.settings import FeatureStoreSettings
    from model_build.pipeline.steps.gate import resolve_serving

    settings = load_settings()
    if registry_path is not None:
        settings = settings.model_copy(update={"registry": "local", "registry_path": registry_path})
    registry = open_registry(settings)
    loaded = load_params(path=params)
    feature_repo = FeatureRepo.from_settings(FeatureStoreSettings(), path=repo)
    serving = None
    if compare_prod:
        serving = resolve_serving(
            registry=registry, model_name=loaded.model.name, manifest=prod_manifest
        )
    clock = _parse_time(now)
    if serving is not None:
        console.print(f"Serving in prod: [bold]{serving.ref}[/] (from {prod_manifest})")
    if sagemaker:
        _run_sagemaker(
            params=loaded,
            settings=settings,
            repo_path=feature_repo.path,
            serving_ref=serving.ref if serving else None,
            serving_metrics=serving.metrics if serving else {},
            now=clock,
            bucket=bucket,
            role_arn=role_arn,
            image_uri=image_uri,
            region=region,
        )
        return
    from model_build.pipeline.local_runner import run_local
    from slipway.views.progress import rich_steps

    with rich_steps(console=console) as steps:
        result = run_local(
            repo=feature_repo,
            params_path=params,
            registry=registry,
            run_dir=run_dir,
            serving=serving,
            now=clock,
            progress=steps,
        )
    table = Table(title=f"Build {result.run_id}: {result.status}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("version", result.version.ref if result.version else "(not registered)")
    table.add_row("artifact", result.artifact_digest)
    table.add_row("data", result.data_hash)
    for name in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "f1"):
        table.add_row(name, f"{result.metrics[name]:.4f}")
    table.add_row("gate", result.gate.summary())
    table.add_row("run folder", str(result.run_dir))
    table.add_row("seconds", f"{result.seconds:.1f}")
    console.print(table)


@build_app.command("compile")
def compile_definition(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the definition JSON here [default: stdout].", dir_okay=False
        ),
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
    bucket: BucketOption = None,
    role_arn: RoleOption = None,
    image_uri: ImageOption = None,
    region: RegionOption = None,
) -> None:
    """Write the SageMaker pipeline definition JSON, offline (no credentials, no network).

    Unset bucket, role and image fall back to example placeholders, so the output can be
    reviewed or diffed anywhere; the same inputs always give the same bytes.
    """
    from model_build.sagemaker.compile import compile_pipeline, definition_json

    loaded = load_params(path=params)
    target = _target(
        load_settings(), bucket=bucket, role_arn=role_arn, image_uri=image_uri, region=region
    )
    definition = compile_pipeline(params=loaded, **target)
    text = definition_json(definition)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    steps = ", ".join(_step_names(definition))
    console.print(f"Wrote {out} ({len(text)} bytes): {steps}")


def _run_sagemaker(
    *,
    params: BuildParams,
    settings: BuildSettings,
    repo_path: Path,
    serving_ref: str | None,
    serving_metrics: dict[str, float],
    now: datetime | None,
    bucket: str | None,
    role_arn: str | None,
    image_uri: str | None,
    region: str | None,
) -> None:
    from model_build.pipeline.steps.register import git_sha
    from model_build.sagemaker.client import (
        ensure_model_package_group,
        make_clients,
        upload_code,
        upload_feature_repo,
        upsert_and_start,
    )
    from model_build.sagemaker.compile import compile_pipeline
    from model_build.sagemaker.jobs import serving_parameter

    target = _target(
        settings,
        bucket=bucket,
        role_arn=role_arn,
        image_uri=image_uri,
        region=region,
        required=True,
    )
    definition = compile_pipeline(params=params, **target)
    sm, s3 = make_clients(region=target["region"], endpoint_url=settings.aws_endpoint_url)
    uploaded = upload_code(s3=s3, bucket=target["bucket"], params=params)
    uploaded += upload_feature_repo(
        s3=s3, bucket=target["bucket"], params=params, repo_path=repo_path
    )
    ensure_model_package_group(sagemaker=sm, model_name=params.model.name)
    parameters = {"GitSha": git_sha(), "DataGateTime": now.isoformat() if now else "now"}
    if serving_ref is not None:
        parameters["ServingMetrics"] = serving_parameter(
            ref=serving_ref, metrics=serving_metrics, keep=list(params.gate.serving_tolerance)
        )
    started = upsert_and_start(
        definition=definition,
        name=params.sagemaker.pipeline_name,
        role_arn=target["role_arn"],
        parameters=parameters,
        sagemaker=sm,
    )
    verb = "Created" if started.created else "Updated"
    console.print(f"Uploaded {len(uploaded)} files to s3://{target['bucket']}/")
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
) -> dict[str, str]:
    chosen = {
        "bucket": bucket or settings.s3_bucket,
        "role_arn": role_arn,
        "image_uri": image_uri or settings.image_uri,
    }
    missing = [name for name, value in chosen.items() if not value]
    if required and missing:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in missing)
        raise typer.BadParameter(f"--sagemaker needs {flags} (or their environment variables)")
    resolved = {name: value or _PLACEHOLDERS[name] for name, value in chosen.items()}
    resolved["region"] = region or settings.aws_region
    return resolved


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint="--now") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _step_names(definition: dict[str, object]) -> list[str]:
    names: list[str] = []
    steps = definition.get("Steps")
    stack = list(steps) if isinstance(steps, list) else []
    while stack:
        step = stack.pop(0)
        names.append(str(step["Name"]))
        arguments = step.get("Arguments") or {}
        stack[:0] = [*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])]
    return names
