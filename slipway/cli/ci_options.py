"""What the ci commands share: options, and building the forge, registries and planner."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ci.forge import Forge, open_forge
from ci.planning import Planner, RegistryOpener, deployer_planner
from ci.settings import CiSettings, load_ci_settings
from model_build.registry.protocol import ModelRegistry


class ForgeChoice(StrEnum):
    """Forges on the command line."""

    LOCAL = "local"
    GITHUB = "github"


class OutputFormat(StrEnum):
    """Output formats."""

    TEXT = "text"
    JSON = "json"


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
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="text for people, json for scripts.", case_sensitive=False),
]
RunUrlOption = Annotated[
    str | None,
    typer.Option(
        "--run-url",
        help="Link to the CI run (default on GitHub Actions: this workflow run).",
        show_default=False,
    ),
]


def settings(
    *, forge: ForgeChoice | None, repo_dir: Path | None, base: str | None, manifests_dir: str | None
) -> CiSettings:
    """Settings of the ci area from the environment, with command-line overrides.

    Args:
        forge: ``--forge``.
        repo_dir: ``--repo-dir``.
        base: ``--base``.
        manifests_dir: ``--manifests-dir``.

    Returns:
        The settings.
    """
    return load_ci_settings(
        forge=forge.value if forge else None,
        repo_dir=repo_dir,
        base_branch=base,
        manifests_dir=manifests_dir,
    )


def forge_of(config: CiSettings) -> Forge:
    """The forge the settings name."""
    return open_forge(config)


def registries() -> RegistryOpener:
    """Opens ``model_build`` registries by kind (each opened once), from its settings."""
    opened: dict[str, ModelRegistry] = {}

    def open_kind(kind: str) -> ModelRegistry:
        if kind not in opened:
            from model_build.registry.factory import open_registry
            from model_build.settings import load_settings

            base = load_settings()
            opened[kind] = open_registry(base.model_copy(update={"registry": kind}))
        return opened[kind]

    return open_kind


def planner(config: CiSettings, opener: RegistryOpener) -> Planner:
    """The deployer-backed planner for the settings' manifests folder."""
    return deployer_planner(manifests_dir=config.manifests_dir, registries=opener)


def default_run_url() -> str | None:
    """This workflow run's address on GitHub Actions, else None."""
    server = os.environ.get("GITHUB_SERVER_URL")
    repo = os.environ.get("GITHUB_REPOSITORY")
    run = os.environ.get("GITHUB_RUN_ID")
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def write_outputs(values: dict[str, Any]) -> None:
    """Append ``key=value`` lines to ``$GITHUB_OUTPUT`` when it is set (for later steps)."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as handle:
        for key, value in values.items():
            text = "" if value is None else str(value).lower() if isinstance(value, bool) else value
            handle.write(f"{key}={text}\n")


def emit(fmt: OutputFormat, *, text: list[str], doc: dict[str, Any]) -> None:
    """Print text lines or one JSON document."""
    if fmt == OutputFormat.JSON:
        typer.echo(json.dumps(doc, indent=2, default=str))
    else:
        typer.echo("\n".join(text))
