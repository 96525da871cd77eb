"""The ``slipway`` command: one Typer app composed of each area's command group.

Errors raised by any area print as one red line on stderr and exit non-zero; the traceback is
shown only with ``--verbose``.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from ci.cli import ci_app, promote_command
from ci.errors import CiError
from model_build.build_cli import build_app
from model_build.cli import models_app
from model_build.errors import BuildError
from model_deploy.cli import deploy_app
from model_deploy.errors import DeployError
from services.cli import data_app, features_app
from services.errors import ServicesError
from slipway import __version__
from slipway.errors import DemoError

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

app = typer.Typer(
    name="slipway",
    help=(
        "Slipway: GitOps CI/CD for ML models plus a feature store service.\n\n"
        "Start with `slipway demo` to run the whole loop on your machine with no cloud."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
app.add_typer(build_app, name="build")
app.add_typer(deploy_app, name="deploy")
app.add_typer(ci_app, name="ci")
app.command("promote")(promote_command)

_state = {"verbose": False}
_err = Console(stderr=True, highlight=False)

#: Error bases of every area: these are expected failures, reported as one line.
KNOWN_ERRORS: tuple[type[Exception], ...] = (
    ServicesError,
    BuildError,
    DeployError,
    CiError,
    DemoError,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"slipway {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Slipway: GitOps CI/CD for ML models plus a feature store service."""
    _state["verbose"] = verbose


@app.command()
def demo(
    workdir: Annotated[
        str, typer.Option(help="Folder for the demo's state (git forge, registry, reports).")
    ] = ".slipway/demo",
    keep_running: Annotated[
        bool,
        typer.Option(help="Leave the dev/staging/prod endpoints running after the demo."),
    ] = False,
) -> None:
    """Run the whole loop on the embedded default, with no cloud at all.

    Data -> gate -> features apply/materialize -> build -> register -> approve -> promote to
    dev, staging and prod by local pull requests (plan comment, approval, merge, deploy) ->
    online features from the feature service -> a prediction from the prod endpoint.
    """
    from slipway.demo import run_demo

    run_demo(workdir=workdir, keep_running=keep_running)


def main() -> None:
    """Entry point of the ``slipway`` console script."""
    try:
        app(prog_name="slipway")
    except KNOWN_ERRORS as exc:
        _fail(exc, code=1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: one line instead of a traceback
        _fail(exc, code=2, unexpected=True)


def _fail(exc: BaseException, *, code: int, unexpected: bool = False) -> None:
    if _state["verbose"]:
        traceback.print_exception(exc, file=sys.stderr)
    message = f"{type(exc).__name__}: {exc}" if unexpected else str(exc)
    hint = "" if _state["verbose"] else " (run with --verbose for details)" if unexpected else ""
    _err.print(Text.assemble(("error: ", "bold red"), message + hint), soft_wrap=True)
    sys.exit(code)
