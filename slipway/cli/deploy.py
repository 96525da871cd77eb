"""The ``slipway deploy`` command group: plan, apply, status and rollback of environments.

Failures are ``DeployError`` subclasses (``SettingsError`` for a bad variable) with one-line
messages; ``slipway.cli.app.run`` prints them and exits 1. Only typer and the standard library
load with this module: ``model_deploy`` loads inside the command that runs, so ``slipway deploy
plan dev`` starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from slipway.cli.output import FormatOption, OutputFormat, OutputOption, PlanFormat, emit

deploy_app = typer.Typer(
    help="Plan and apply environment manifests (dev, staging, prod).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EnvArgument = Annotated[
    str,
    typer.Argument(
        help="Environment: a manifest file name without .yaml (dev, staging, prod).",
        show_default=False,
    ),
]
PlanFormatOption = Annotated[
    PlanFormat,
    typer.Option(
        "--format",
        "-f",
        help="text (terminal), markdown (pull request comment) or json (machines).",
        case_sensitive=False,
    ),
]


@deploy_app.command()
def plan(
    env: EnvArgument,
    fmt: PlanFormatOption = PlanFormat.TEXT,
    output: OutputOption = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when in sync, 2 when there are changes, 3 when a policy blocks them.",
        ),
    ] = False,
) -> None:
    """Show what applying ENV's manifest would change, with metrics, policies and evidence."""
    from model_deploy.service import Deployer

    result = Deployer().plan(env)
    emit(result, fmt, output=output)
    if detailed_exitcode and not result.in_sync:
        raise typer.Exit(3 if result.blocked else 2)


@deploy_app.command()
def apply(env: EnvArgument, fmt: FormatOption = OutputFormat.TEXT) -> None:
    """Make ENV match its manifest; roll back by itself if health or smoke tests fail.

    A no-op when ENV already serves the manifest (same version and manifest hash, healthy).
    Only one apply or rollback runs per environment at a time.
    """
    from model_deploy.apply import apply_env
    from model_deploy.render.text import result_text
    from model_deploy.service import Deployer

    emit(apply_env(Deployer(), env), fmt, text=result_text)


@deploy_app.command()
def status(fmt: FormatOption = OutputFormat.TEXT) -> None:
    """Show every environment's drift: manifest in git vs registry status vs what serves."""
    from model_deploy.render.text import status_text
    from model_deploy.service import Deployer
    from model_deploy.status import status_all

    emit(status_all(Deployer()), fmt, text=status_text)


@deploy_app.command()
def rollback(env: EnvArgument, fmt: FormatOption = OutputFormat.TEXT) -> None:
    """Put ENV back on its previous successful deployment (from its deploy history).

    Policies are skipped, smoke tests are not. The manifest in git is left as is: revert it
    (`slipway deploy status` shows the drift until you do).
    """
    from model_deploy.apply import rollback_env
    from model_deploy.render.text import result_text
    from model_deploy.service import Deployer

    emit(rollback_env(Deployer(), env), fmt, text=result_text)
