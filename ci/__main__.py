"""``python -m ci``: the ``slipway ci`` command group alone (errors print as one line)."""

from __future__ import annotations

import sys

import typer

from ci.cli import ci_app
from ci.errors import CiError
from model_build.errors import BuildError
from model_deploy.errors import DeployError


def main() -> None:
    """Run ``ci_app``; known errors print ``error: <message>`` and exit 1."""
    try:
        ci_app(prog_name="slipway ci", standalone_mode=True)
    except (CiError, DeployError, BuildError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
