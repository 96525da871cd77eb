"""The ``slipway deploy`` command group: plan, apply, status and rollback of environments.

``apply`` and ``rollback`` end in an outcome with its own exit code (0 applied or no-op, 3
refused, 4 locked, 5 rolled back, 6 rollback failed); other failures are ``DeployError``
subclasses (``SettingsError`` for a bad variable) with one-line messages, which
``slipway.cli.app.run`` prints before exiting 1. Only typer and the standard library load with
this module: ``model_deploy`` loads inside the command that runs, so ``slipway deploy plan dev``
starts fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from slipway.cli.output import FormatOption, OutputFormat, OutputOption, PlanFormat, emit

deploy_app = typer.Typer(
    help="Plan and apply environment manifests (dev, staging, prod).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_CODES_HELP = (
    "Exit codes: 0 applied or no-op; 3 refused (a policy or a config check; nothing changed); "
    "4 locked (another apply or rollback runs); 5 failed and rolled back (the outcome's cause: "
    "model, config or infrastructure); 6 failed and the rollback failed too; 1 an error (a bad "
    "manifest or setting). --format json prints the outcome, its cause, the versions (desired, "
    "previously serving, now serving) and the reasons."
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
EmergencyOption = Annotated[
    str | None,
    typer.Option(
        "--emergency",
        metavar="REASON",
        help="An emergency change, with its reason (recorded in the plan and the history): a "
        "freeze window is waived; the owners' approval is required by the promotion flow.",
        show_default=False,
    ),
]


class _StepLines:
    """Prints each traffic step on stderr (stdout stays the result, e.g. JSON)."""

    def started(self, name: str, label: str) -> None:
        """A step began."""
        print(f"deploy: {label} ...", file=sys.stderr, flush=True)

    def finished(self, name: str, label: str, *, ok: bool, seconds: float) -> None:
        """A step ended."""
        print(
            f"deploy: {label}: {'live' if ok else 'FAILED'} ({seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )


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
    emergency: EmergencyOption = None,
) -> None:
    """Show what applying ENV's manifest would change, with metrics, policies and evidence.

    The plan names the change kind (model promotion, config change, rollback, emergency) and
    every manifest field that changes.
    """
    from model_deploy.service import Deployer

    result = Deployer().plan(env, emergency=emergency)
    emit(result, fmt, output=output)
    if detailed_exitcode and not result.in_sync:
        raise typer.Exit(3 if result.blocked else 2)


@deploy_app.command(epilog=EXIT_CODES_HELP)
def apply(
    env: EnvArgument, fmt: FormatOption = OutputFormat.TEXT, emergency: EmergencyOption = None
) -> None:
    """Make ENV match its manifest; roll back by itself if health, bake or smoke tests fail.

    A no-op when ENV already serves the manifest (same version and manifest hash, healthy).
    Only one apply or rollback runs per environment at a time; one that was interrupted is
    finished or undone first. Each traffic step is printed on stderr.
    """
    from model_deploy.apply import run_apply
    from model_deploy.render.text import outcome_text
    from model_deploy.service import Deployer

    outcome = run_apply(Deployer(), env, emergency=emergency, progress=_StepLines())
    emit(outcome, fmt, text=outcome_text)
    raise typer.Exit(outcome.exit_code)


@deploy_app.command()
def status(
    fmt: FormatOption = OutputFormat.TEXT,
    recover: Annotated[
        bool,
        typer.Option(
            "--recover/--no-recover",
            help="Finish or undo a run that was interrupted (its lock is stale) before "
            "reporting; --no-recover only reports it.",
        ),
    ] = True,
) -> None:
    """Show every environment's drift: manifest in git vs registry vs what serves vs history.

    A run in progress is shown as such, not as drift.
    """
    from model_deploy.render.text import status_text
    from model_deploy.service import Deployer
    from model_deploy.status import status_all

    emit(status_all(Deployer(), recover=recover), fmt, text=status_text)


@deploy_app.command(epilog=EXIT_CODES_HELP)
def rollback(
    env: EnvArgument,
    fmt: FormatOption = OutputFormat.TEXT,
    to: Annotated[
        int | None,
        typer.Option(
            "--to",
            metavar="VERSION",
            help="Go back to this version (its newest successful deployment in the history) "
            "instead of the deployment before the serving one.",
            min=1,
        ),
    ] = None,
) -> None:
    """Put ENV back on an earlier successful deployment, walking its deploy history.

    Policies are skipped, smoke tests are not. Repeated rollbacks go further back. The
    manifest in git is left as is: revert it (`slipway deploy status` shows the drift until
    you do).
    """
    from model_deploy.render.text import outcome_text
    from model_deploy.rollback import run_rollback
    from model_deploy.service import Deployer

    outcome = run_rollback(Deployer(), env, to_version=to, progress=_StepLines())
    emit(outcome, fmt, text=outcome_text)
    raise typer.Exit(outcome.exit_code)
