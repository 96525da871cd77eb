"""The ``slipway deploy`` command group: plan, apply, status and rollback of environments.

``apply`` and ``rollback`` end in an outcome with its own exit code (0 applied or no-op, 3
refused, 4 locked, 5 rolled back, 6 rollback failed); other failures are ``DeployError``
subclasses (``SettingsError`` for a bad variable) with one-line messages, which
``slipway.cli.app.run`` prints before exiting 1. Only typer and the standard library load with
this module: ``model_deploy`` loads inside the command that runs, so ``slipway deploy plan dev``
starts fast.

A deployment is one model in one environment (``ENV/MODEL``). ``ENV`` alone means every model
of the environment: one document (``--format json``) when it has one manifest, a list when it
has several; ``--model`` (or ``ENV/MODEL``) picks one. Several applies exit with the worst
outcome's code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from slipway.cli import ci_options as cs
from slipway.cli.output import FormatOption, OutputFormat, OutputOption, PlanFormat, emit

deploy_app = typer.Typer(
    help="Plan and apply environment manifests (dev, staging, prod), one per model.",
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
        help="Environment (dev, staging, prod: every model's manifest in it), or one "
        "deployment ENV/MODEL (the manifest model_deploy/environments/ENV/MODEL.yaml).",
        show_default=False,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Only this model's manifest of ENV (its file name, or the model it serves).",
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
    model: ModelOption = None,
) -> None:
    """Show what applying ENV's manifests would change, with metrics, policies and evidence.

    The plan names the change kind (model promotion, config change, rollback, emergency) and
    every manifest field that changes; one plan per model of ENV (or the one of --model).
    """
    from model_deploy.service import Deployer

    deployer = Deployer()
    plans = [deployer.plan(key, emergency=emergency) for key in _keys(deployer, env, model)]
    emit(_one_or_all(plans), fmt, output=output, text=_joined("to_text"))
    if detailed_exitcode and not all(plan.in_sync for plan in plans):
        raise typer.Exit(3 if any(plan.blocked for plan in plans) else 2)


@deploy_app.command(epilog=EXIT_CODES_HELP)
def apply(
    env: EnvArgument,
    fmt: FormatOption = OutputFormat.TEXT,
    emergency: EmergencyOption = None,
    model: ModelOption = None,
) -> None:
    """Make ENV match its manifests; roll back by itself if health, bake or smoke tests fail.

    A no-op when a deployment already serves its manifest (same version and manifest hash,
    healthy). Only one apply or rollback runs per deployment (model and environment) at a
    time; one that was interrupted is finished or undone first. Each traffic step is printed
    on stderr. Every model of ENV is applied in turn (or the one of --model).
    """
    from model_deploy.apply import run_apply
    from model_deploy.render.text import outcome_text
    from model_deploy.service import Deployer

    deployer = Deployer()
    outcomes = [
        run_apply(deployer, key, emergency=emergency, progress=_StepLines())
        for key in _keys(deployer, env, model)
    ]
    emit(_one_or_all(outcomes), fmt, text=_each(outcome_text))
    raise typer.Exit(max((o.exit_code for o in outcomes), default=0))


@deploy_app.command()
def status(
    env: Annotated[
        list[str] | None,
        typer.Argument(
            help="Environments or ENV/MODEL deployments to check \\[default: every one].",
            show_default=False,
        ),
    ] = None,
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
    """Show every deployment's drift: manifest in git vs registry vs what serves vs history.

    One line per model and environment. A run in progress is shown as such, not as drift.
    """
    from model_deploy.render.text import status_text
    from model_deploy.service import Deployer
    from model_deploy.status import status_all

    emit(status_all(Deployer(), recover=recover, names=env or None), fmt, text=status_text)


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
    model: ModelOption = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    base: cs.BaseOption = None,
    manifests_dir: cs.ManifestsOption = None,
) -> None:
    """Put a deployment back on an earlier successful deployment, walking its history.

    ENV must mean one deployment (ENV/MODEL, --model, or an environment with one manifest).
    Without --forge the endpoint changes now (policies are skipped, smoke tests are not;
    repeated rollbacks go further back) and the manifest in git is left as is: `slipway deploy
    status` shows the drift until you revert it. With --forge, nothing changes behind git's
    back: the rollback pull request is opened (branch slipway/rollback-ENV/MODEL, as `slipway
    ci rollback`), and merging it deploys it.
    """
    from model_deploy.service import Deployer

    deployer = Deployer()
    key = deployer.resolve(env, model=model)
    if forge is not None:
        from slipway.cli.ci import open_rollback_pr

        open_rollback_pr(
            key, to=to, forge=forge, repo_dir=repo_dir, base=base, manifests_dir=manifests_dir,
            fmt=fmt, command=f"slipway deploy rollback {key}" + (f" --to {to}" if to else ""),
        )  # fmt: skip
        return
    from model_deploy.render.text import outcome_text
    from model_deploy.rollback import run_rollback

    outcome = run_rollback(deployer, key, to_version=to, progress=_StepLines())
    emit(outcome, fmt, text=outcome_text)
    raise typer.Exit(outcome.exit_code)


def _keys(deployer: Any, env: str, model: str | None) -> list[str]:
    """The deployment keys ENV (and --model) mean; an environment without one is an error."""
    from model_deploy.errors import ManifestError, ManifestIssue

    keys: list[str] = deployer.select(env, model=model)
    if not keys:
        raise ManifestError([ManifestIssue(env, None, None, f"{env} has no manifest")])
    return keys


def _one_or_all(results: list[Any]) -> Any:
    """One result as itself, several as a list (markdown: the plans one after the other)."""
    return results[0] if len(results) == 1 else _Many(results)


class _Many(list[Any]):
    """Several results: JSON as a list, markdown as every plan in turn."""

    def to_markdown(self) -> str:
        """Every plan's markdown, one after the other."""
        return "\n".join(item.to_markdown() for item in self)


def _joined(method: str) -> Callable[[Any], str]:
    def view(result: Any) -> str:
        items = result if isinstance(result, list) else [result]
        return "\n".join(str(getattr(item, method)()).rstrip("\n") + "\n" for item in items)

    return view


def _each(render: Callable[[Any], str]) -> Callable[[Any], str]:
    def view(result: Any) -> str:
        items = result if isinstance(result, list) else [result]
        return "\n".join(render(item).rstrip("\n") for item in items)

    return view
