"""Command group ``slipway predict``: batch scoring."""

from __future__ import annotations

import typer

predict_app = typer.Typer(help="Score entity rows in batch.", no_args_is_help=True)
