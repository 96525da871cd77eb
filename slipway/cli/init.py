"""``slipway init DIR``: a new, working Slipway project from the copier template.

The template (``slipway/templates/project``) holds a feature repo (Feast definitions and the
expectation suites of its sources), a data generator, one model folder, the environments file
with one manifest per environment, a Makefile whose ``make demo`` and ``make test`` are the
README's two commands, and a small ``tests/`` folder. Copier renders it and writes
``.copier-answers.yml``, so ``copier update`` (or ``copier recopy``) can later bring template
changes in. The result is validated with the real model definition and manifest loaders.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import typer

from slipway.cli.model import (
    DEPLOY_DIR,
    MODELS_DIR,
    TEMPLATE_DIR,
    ProjectError,
    TaskName,
    check_model_name,
)
from slipway.cli.output import FormatOption, OutputFormat, emit

ANSWERS_FILE: Final = ".copier-answers.yml"
PROJECT_NAME: Final = re.compile(r"^[\w][\w .,:()'&+-]{0,79}$")


@dataclass(frozen=True)
class NewProject:
    """What ``init`` wrote and how to run it."""

    path: Path
    name: str
    slug: str
    model: str
    task: str
    files: list[Path]

    def to_text(self) -> str:
        """Where the project is and its two commands."""
        return "\n".join(
            [
                f"Created {self.name} in {self.path} ({len(self.files)} files; "
                f"model {self.model}, {self.task}).",
                "Next:",
                f"  cd {self.path}",
                "  make demo    # data -> gate -> features -> build, gate, register -> plan dev",
                "  make test    # the project's own tests",
            ]
        )


def init_command(
    directory: Annotated[
        Path,
        typer.Argument(help="Folder of the new project (created; must be empty without --force)."),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Project name [default: the folder's name]."),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="The first model's name [default: churn].")
    ] = "churn",
    task: Annotated[
        TaskName,
        typer.Option("--task", "-t", help="The first model's task [default: binary]."),
    ] = TaskName.BINARY,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Render into a folder that is not empty (template files win).",
        ),
    ] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Create a new, working Slipway project in DIRECTORY from the project template.

    It holds a feature repo (Feast definitions, expectation suites), a data generator, one
    model folder, model_deploy/environments.yaml with a manifest per environment, a README
    whose two commands (make demo, make test) run the loop and the project's tests, and
    .copier-answers.yml for `copier update`. A folder that is not empty is refused unless
    --force.
    """
    created = create_project(
        directory=directory, name=name, model=model, task=task.value, force=force
    )
    emit(created, fmt)


def create_project(
    *, directory: Path, name: str | None, model: str, task: str, force: bool = False
) -> NewProject:
    """Render the template into ``directory`` and validate what it wrote.

    Raises:
        ProjectError: ``directory`` is a file, or not empty without ``force``; the name or
            model name is invalid; copier fails.
        DefinitionError: The model definition fails its loader (a template bug).
        ManifestError: A manifest or the environments file fails its loader (a template bug).
    """
    if directory.exists() and not directory.is_dir():
        raise ProjectError(f"{directory} is a file, not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise ProjectError(
            f"{directory} is not empty; choose an empty or new folder, or pass --force to "
            "render the template into it"
        )
    title = name if name is not None else directory.resolve().name
    if not PROJECT_NAME.fullmatch(title):
        raise ProjectError(
            f"invalid project name {title!r}: up to 80 letters, digits, spaces and .,:()'&+- "
            "(starting with a letter or digit); pass --name"
        )
    check_model_name(model)
    slug = project_slug(title)
    render(directory=directory, slug=slug, title=title, model=model, task=task, force=force)
    from model_deploy.manifest.schema import SCHEMA_PATH

    shutil.copyfile(SCHEMA_PATH, directory / DEPLOY_DIR / SCHEMA_PATH.name)
    validate_project(directory)
    files = sorted(
        path.relative_to(directory)
        for path in directory.rglob("*")
        if path.is_file() and ".git" not in path.parts
    )
    return NewProject(directory, title, slug, model, task, files)


def project_slug(title: str) -> str:
    """The Feast project name for ``title``: lower-case words joined by underscores."""
    slug = "_".join(re.findall(r"[a-z0-9]+", title.lower()))[:63] or "project"
    return slug if slug[0].isalpha() else f"p_{slug}"[:63]


def render(*, directory: Path, slug: str, title: str, model: str, task: str, force: bool) -> None:
    """Copier's copy of the template with these answers (no prompt, no template tasks).

    Raises:
        ProjectError: Copier refused or failed.
    """
    import copier
    from copier.errors import CopierError

    answers = {"project_name": title, "project_slug": slug, "model_name": model, "task": task}
    try:
        copier.run_copy(
            str(TEMPLATE_DIR),
            str(directory),
            data=answers,
            defaults=True,
            overwrite=force,
            quiet=True,
            unsafe=False,
            skip_tasks=True,
        )
    except CopierError as exc:
        raise ProjectError(f"copier could not render the project into {directory}: {exc}") from exc


def validate_project(root: Path) -> None:
    """Load every model definition and every manifest of ``root`` with the real loaders.

    Raises:
        DefinitionError: A model definition is invalid (file, field and line named).
        ManifestError: The environments file or a manifest is invalid, or two manifests share
            a local port.
    """
    from model_build.definition.catalog import model_folders
    from model_build.definition.loader import load_definition
    from model_deploy.errors import ManifestError, ManifestIssue
    from model_deploy.manifest.sources import ManifestFolder, conflicts

    for folder in model_folders(root=root / MODELS_DIR):
        load_definition(path=folder)
    source = ManifestFolder(root / DEPLOY_DIR / "environments")
    source.environments()
    for key in source.names():
        source.load(key)
        clashes = conflicts(source, key)
        if clashes:
            raise ManifestError([ManifestIssue(key, None, None, "; ".join(clashes))])
