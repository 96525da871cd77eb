"""The GitHub Actions runner's side of a ci command: this run's address and step outputs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def run_url() -> str | None:
    """This workflow run's address on GitHub Actions, else None."""
    server = os.environ.get("GITHUB_SERVER_URL")
    repo = os.environ.get("GITHUB_REPOSITORY")
    run = os.environ.get("GITHUB_RUN_ID")
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def write_outputs(values: Mapping[str, object]) -> None:
    """Append ``key=value`` lines to ``$GITHUB_OUTPUT`` when it is set (for later steps).

    None is written as an empty value and booleans as ``true``/``false``.
    """
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as handle:
        for key, value in values.items():
            text = "" if value is None else str(value).lower() if isinstance(value, bool) else value
            handle.write(f"{key}={text}\n")
