"""The typer options the ci commands share (``--forge``, ``--repo-dir``, ``--base``...)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class ForgeChoice(StrEnum):
    """Forges on the command line."""

    LOCAL = "local"
    GITHUB = "github"


ForgeOption = Annotated[
    ForgeChoice | None,
    typer.Option(
        "--forge",
        help="local: git in --repo-dir with pull request records (the default); github: the "
        "REST API (SLIPWAY_GITHUB_TOKEN, SLIPWAY_GITHUB_REPOSITORY, SLIPWAY_GITHUB_API_URL). "
        "Default: $SLIPWAY_FORGE or local.",
        case_sensitive=False,
        show_default=False,
    ),
]
RepoDirOption = Annotated[
    Path | None,
    typer.Option(
        "--repo-dir",
        help="Git work tree of the local forge (default: $SLIPWAY_REPO_DIR or .).",
        file_okay=False,
        show_default=False,
    ),
]
BaseOption = Annotated[
    str | None,
    typer.Option(
        "--base",
        help="Branch pull requests target (default: $SLIPWAY_BASE_BRANCH or main).",
        show_default=False,
    ),
]
ManifestsOption = Annotated[
    str | None,
    typer.Option(
        "--manifests-dir",
        help="Manifests folder in the repository (default: $SLIPWAY_MANIFESTS_DIR or "
        "model_deploy/environments).",
        show_default=False,
    ),
]
RunUrlOption = Annotated[
    str | None,
    typer.Option(
        "--run-url",
        help="Link to the CI run (default on GitHub Actions: this workflow run).",
        show_default=False,
    ),
]
