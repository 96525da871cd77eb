"""The ``slipway`` command: one Typer app composed of the command groups, one error mapping.

Every expected failure is a :class:`~foundation.errors.SlipwayError`: it prints as one red line
on stderr and exits 1. Anything else prints one line naming its type and exits 2; the traceback
is shown only with ``--verbose``. Usage errors (a bad option) exit 2 as Click prints them.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated

import typer
import typer.core

from foundation.errors import SlipwayError
from slipway import __version__
from slipway.cli.build import build_app
from slipway.cli.ci import ci_app
from slipway.cli.console import console_command
from slipway.cli.data import data_app
from slipway.cli.demo import demo_command
from slipway.cli.deploy import deploy_app
from slipway.cli.features import features_app
from slipway.cli.init import init_command
from slipway.cli.model import model_app
from slipway.cli.models import models_app
from slipway.cli.monitor import monitor_app
from slipway.cli.predict import predict_app
from slipway.cli.promote import promote_command
from slipway.cli.runs import runs_app

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Help and usage errors in Click's plain format: typer's rich formatter imports ~250 ms of
# markdown and syntax-highlighting modules on every `--help`, more than the whole CLI start.
typer.core.HAS_RICH = False

app = typer.Typer(
    name="slipway",
    help=(
        "Slipway: GitOps CI/CD for ML models plus a feature store service.\n\n"
        "Start with `slipway demo` to run the whole loop on your machine with no cloud."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(model_app, name="model")
app.add_typer(models_app, name="models")
app.add_typer(build_app, name="build")
app.add_typer(runs_app, name="runs")
app.add_typer(predict_app, name="predict")
app.add_typer(deploy_app, name="deploy")
app.add_typer(ci_app, name="ci")
app.add_typer(monitor_app, name="monitor")
app.command("promote")(promote_command)
app.command("demo")(demo_command)
app.command("init")(init_command)
app.command("console")(console_command)

_state = {"verbose": False}


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


def run(argv: Sequence[str] | None = None) -> int:
    """Run one ``slipway`` command line and return its exit code (errors printed on stderr)."""
    _state["verbose"] = False
    try:
        app(args=list(argv) if argv is not None else None, prog_name="slipway")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except SlipwayError as exc:
        return _fail(exc, code=1)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line instead of a traceback
        return _fail(exc, code=2, unexpected=True)
    return 0


def main() -> None:
    """Entry point of the ``slipway`` console script."""
    sys.exit(run())


def _fail(exc: BaseException, *, code: int, unexpected: bool = False) -> int:
    if _state["verbose"]:
        traceback.print_exception(exc, file=sys.stderr)
    message = f"{type(exc).__name__}: {exc}" if unexpected else str(exc)
    hint = " (run with --verbose for details)" if unexpected and not _state["verbose"] else ""
    error_line = " ".join((message + hint).split())  # one line, whatever the message holds
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False).print(
        Text.assemble(("error: ", "bold red"), error_line), soft_wrap=True
    )
    return code
