"""The typer options the ci commands share (``--forge``, ``--repo-dir``, ``--base``...)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

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


class ResultChoice(StrEnum):
    """Deploy results on the command line."""

    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAILURE = "failure"

    def literal(self) -> Literal["in_progress", "success", "failure"]:
        """The result as the literal ``report_deploy`` takes."""
        return _RESULTS[self]


_RESULTS: dict[ResultChoice, Literal["in_progress", "success", "failure"]] = {
    ResultChoice.IN_PROGRESS: "in_progress",
    ResultChoice.SUCCESS: "success",
    ResultChoice.FAILURE: "failure",
}


OutcomeFileOption = Annotated[
    Path | None,
    typer.Option(
        "--outcome-file",
        help="What `slipway deploy apply ENV --format json` printed: the outcome decides "
        "what follows (only a failure blamed on the model rejects the version).",
        dir_okay=False,
        show_default=False,
    ),
]
ResultOption = Annotated[
    ResultChoice | None,
    typer.Option(
        "--result",
        help="in_progress (deploy started), success or failure, without an outcome "
        "(a bare failure has no known cause: it rejects nothing).",
        case_sensitive=False,
        show_default=False,
    ),
]
MergedPrOption = Annotated[
    int | None,
    typer.Option(
        "--pr", help="The merged pull request (gets the result comment).", show_default=False
    ),
]
LogUrlOption = Annotated[
    str | None,
    typer.Option(
        "--log-url",
        help="Link to the deploy log (default: this workflow run).",
        show_default=False,
    ),
]
StatusJsonOption = Annotated[
    Path | None,
    typer.Option(
        "--status-json",
        help="Output of `slipway deploy status --format json`: what serves where, read "
        "before a version is rejected (default: check every environment now).",
        dir_okay=False,
        show_default=False,
    ),
]
