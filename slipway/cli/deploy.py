"""The ``slipway deploy`` command group: plan, apply, status and rollback of environments.

Errors are ``DeployError`` subclasses with one-line messages; the ``slipway`` entry point prints
them and exits 1. ``python -m model_deploy`` runs this group alone with the same behaviour.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from model_deploy.errors import DeployError

deploy_app = typer.Typer(
    help="Plan and apply environment manifests (dev, staging, prod).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class OutputFormat(StrEnum):
    """Output formats."""

    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


EnvArgument = Annotated[
    str,
    typer.Argument(
        help="Environment: a manifest file name without .yaml (dev, staging, prod).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="text (terminal), markdown (pull request comment) or json (machines).",
        case_sensitive=False,
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of stdout.", dir_okay=False),
]


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


@deploy_app.command()
def plan(
    env: EnvArgument,
    fmt: FormatOption = OutputFormat.TEXT,
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
    from model_deploy.render import render_plan
    from model_deploy.service import Deployer

    result = Deployer().plan(env)
    _emit(render_plan(result, fmt=fmt.value), output)
    if detailed_exitcode and not result.in_sync:
        raise typer.Exit(3 if result.blocked else 2)


@deploy_app.command()
def apply(env: EnvArgument, fmt: FormatOption = OutputFormat.TEXT) -> None:
    """Make ENV match its manifest; roll back by itself if health or smoke tests fail.

    A no-op when ENV already serves the manifest (same version and manifest hash, healthy).
    Only one apply or rollback runs per environment at a time.
    """
    from model_deploy.apply import apply_env
    from model_deploy.render import render_result
    from model_deploy.service import Deployer

    _emit(render_result(apply_env(Deployer(), env), fmt=fmt.value), None)


@deploy_app.command()
def status(fmt: FormatOption = OutputFormat.TEXT) -> None:
    """Show every environment's drift: manifest in git vs registry status vs what serves."""
    from model_deploy.render import render_status
    from model_deploy.service import Deployer
    from model_deploy.status import status_all

    statuses = status_all(Deployer())
    _emit(render_status(statuses, fmt=fmt.value), None)


@deploy_app.command()
def rollback(env: EnvArgument, fmt: FormatOption = OutputFormat.TEXT) -> None:
    """Put ENV back on its previous successful deployment (from its deploy history).

    Policies are skipped, smoke tests are not. The manifest in git is left as is: revert it
    (`slipway deploy status` shows the drift until you do).
    """
    from model_deploy.apply import rollback_env
    from model_deploy.render import render_result
    from model_deploy.service import Deployer

    _emit(render_result(rollback_env(Deployer(), env), fmt=fmt.value), None)


def main() -> None:
    """Run the command group alone (``python -m model_deploy``): errors print as one line."""
    try:
        deploy_app(prog_name="slipway deploy", standalone_mode=True)
    except DeployError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
