"""``slipway model new``: add a model folder and its manifests to the project in hand.

A project is the layout ``slipway init`` writes: ``model_build/models/<name>/model.yaml``,
``model_deploy/environments.yaml`` and ``model_deploy/environments/<env>/<name>.yaml``. A new
model gets its definition from the template of its task and one manifest per declared
environment (its own local port in each, the smoke-test rows of a model that reads the same
feature service). Everything is rendered and validated with the real loaders before a file is
written; an existing name is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from foundation.errors import SlipwayError
from slipway.cli.output import FormatOption, OutputFormat, emit

if TYPE_CHECKING:
    import jinja2

    from model_build.definition.schema import ModelDefinition
    from model_deploy.manifest.environments import Environments

TEMPLATE_DIR: Final = Path(__file__).resolve().parents[1] / "templates" / "project"
"""The copier template of a project (``slipway init``); its ``includes/`` render one model."""
MODEL_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MODELS_DIR: Final = Path("model_build") / "models"
DEPLOY_DIR: Final = Path("model_deploy")
FIRST_PORT: Final = 8701

model_app = typer.Typer(
    help="Add models to this project: a model folder and one manifest per environment.",
    no_args_is_help=True,
)


class ProjectError(SlipwayError):
    """A project cannot be created or changed as asked; the message says why and what to do."""


class TaskName(StrEnum):
    """The tasks a model folder can declare."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


@dataclass(frozen=True)
class NewModel:
    """What ``model new`` wrote."""

    name: str
    task: str
    feature_service: str
    label: str
    files: list[Path]

    def to_text(self) -> str:
        """The files, and the commands that build and promote the model."""
        lines = [f"Added model {self.name} ({self.task}, label {self.label}):"]
        lines += [f"  {path}" for path in self.files]
        lines += [
            "Review them (smoke tests, policy bounds), then:",
            f"  slipway build run --models-dir {MODELS_DIR} --model {self.name}",
            f"  slipway promote {self.name}:1 --to dev",
        ]
        return "\n".join(lines)


def check_model_name(name: str) -> str:
    """``name`` if it can name a model folder, registry model and manifest file.

    Raises:
        ProjectError: It cannot.
    """
    if not MODEL_NAME.fullmatch(name):
        raise ProjectError(
            f"invalid model name {name!r}: a lower-case letter, then lower-case letters, digits "
            "or underscores (at most 63 characters)"
        )
    return name


def template_environment() -> jinja2.Environment:
    """A Jinja environment over the project template, rendering as copier does."""
    import jinja2

    return jinja2.Environment(  # noqa: S701 - YAML and Markdown files, not HTML
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


@model_app.command("new")
def new_command(
    name: Annotated[
        str, typer.Argument(help="Model name: its folder, registry name and manifest file name.")
    ],
    task: Annotated[
        TaskName,
        typer.Option("--task", "-t", help="binary, multiclass or regression.", show_default=False),
    ],
    feature_service: Annotated[
        str | None,
        typer.Option(
            "--feature-service",
            help="Feast feature service the model reads [default: the first model's].",
        ),
    ] = None,
    entity_source: Annotated[
        str | None,
        typer.Option(
            "--entity-source",
            help="Data source of entities, event times and the label [default: the first model's].",
        ),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            "--label",
            help="Target column of the entity source [default: the starter project's column "
            "for the task: churned, next_plan or contract_value].",
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id-column", help="Unique row id of the entity source [default: the first model's]."
        ),
    ] = None,
    project: Annotated[
        Path, typer.Option("--project", help="Project folder [default: the current folder].")
    ] = Path("."),
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Add model NAME: model_build/models/NAME/model.yaml and one manifest per environment.

    The definition starts from the task's template (built-in estimator, the task's metrics and
    gate); each environment of model_deploy/environments.yaml gets NAME.yaml with its own local
    port, the environment's strategy and policy bounds, and the smoke-test rows of a model that
    reads the same feature service (none otherwise: add them). Nothing is written unless every
    file passes the real loaders; an existing NAME is refused.
    """
    created = add_model(
        root=project,
        name=name,
        task=task.value,
        feature_service=feature_service,
        entity_source=entity_source,
        label=label,
        id_column=id_column,
    )
    emit(created, fmt)


def add_model(
    *,
    root: Path,
    name: str,
    task: str,
    feature_service: str | None = None,
    entity_source: str | None = None,
    label: str | None = None,
    id_column: str | None = None,
) -> NewModel:
    """Render, validate and write model ``name``'s folder and manifests under ``root``.

    Raises:
        ProjectError: ``name`` is invalid or taken, ``root`` is no project, or a setting has
            no default to fall back on.
        DefinitionError: The rendered definition fails the loader (a bad option value).
        ManifestError: The environments file or a rendered manifest fails the loader.
    """
    from model_build.definition.catalog import model_folders
    from model_build.definition.loader import MODEL_FILE, load_definition, parse_definition
    from model_deploy.manifest.environments import load_environments
    from model_deploy.manifest.loader import parse_manifest

    check_model_name(name)
    models_dir, manifests_dir = root / MODELS_DIR, root / DEPLOY_DIR / "environments"
    environments_file = root / DEPLOY_DIR / "environments.yaml"
    if not models_dir.is_dir() or not environments_file.is_file():
        raise ProjectError(
            f"{root} is not a Slipway project (no {MODELS_DIR} or {environments_file.name}); "
            "run `slipway init DIR` first, or pass --project"
        )
    environments = load_environments(path=environments_file)
    folder = models_dir / name
    manifests = {env: manifests_dir / env / f"{name}.yaml" for env in environments.names}
    taken = [path for path in (folder, *manifests.values()) if path.exists()]
    if taken:
        raise ProjectError(
            f"model {name!r} exists ({', '.join(map(str, taken))}); pick another name"
        )
    others = [load_definition(path=path) for path in model_folders(root=models_dir)]
    first = others[0] if others else None
    jinja = template_environment()
    starter = jinja.get_template("includes/tasks.jinja").module.STARTER[task]  # type: ignore[attr-defined]
    service = feature_service or _default(
        first.model.feature_service if first else None, "feature-service"
    )
    source = entity_source or _default(first.data.entity_source if first else None, "entity-source")
    row_id = id_column or _default(first.data.id_column if first else None, "id-column")
    target = label or (starter["label"] if source == "renewals" else None)
    if not target:
        raise ProjectError(f"give --label: the {task} target column of {source}")
    known = target == starter["label"] and source == "renewals"
    dashed = name.replace("_", "-")
    model_text = jinja.get_template(f"includes/models/{task}.yaml.jinja").render(
        name=name,
        feature_service=service,
        entity_source=source,
        label=target,
        id_column=row_id,
        description=f"The {name.replace('_', ' ')} model ({task})",
        pipeline_name=f"{_slug(root)}-{dashed}",
        prefix=f"{_slug(root)}/{dashed}",
    )
    definition_path = folder / MODEL_FILE
    parse_definition(text=model_text, source=str(definition_path), folder=folder)
    texts = {definition_path: model_text}
    ports = _free_ports(manifests_dir, count=len(manifests))
    for (env, path), port in zip(manifests.items(), ports, strict=True):
        text = jinja.get_template("includes/manifests/manifest.yaml.jinja").render(
            name=name,
            task=task,
            env=env,
            stage=_stage(environments, env),
            env_description=environments.rules(env).description or env,
            port=port,
            feature_service=service,
            instances=_smoke_rows(others, manifests_dir / env, service),
            labels=starter["labels"] if known else None,
            prediction_min=starter.get("prediction_min") if known else None,
            prediction_max=starter.get("prediction_max") if known else None,
        )
        parse_manifest(text=text, source=str(path), expected_env=env, rules=environments.rules(env))
        texts[path] = text
    from foundation.files import write_text_atomic

    for path, text in texts.items():
        write_text_atomic(path, text)
    return NewModel(name, task, service, target, list(texts))


def _default(value: str | None, option: str) -> str:
    if not value:
        raise ProjectError(f"give --{option}: there is no model in this project to copy it from")
    return value


def _slug(root: Path) -> str:
    """The project's name for SageMaker resources: its folder name, lower case and dashed."""
    words = re.findall(r"[a-z0-9]+", root.resolve().name.lower())
    slug = "-".join(words) or "project"
    return slug if slug[0].isalpha() else f"p-{slug}"


def _stage(environments: Environments, env: str) -> str:
    """``first``, ``middle`` or ``last``: which strategy and policy an environment gets."""
    names = environments.names
    if env == names[0]:
        return "first"
    return "last" if env == names[-1] else "middle"


def _free_ports(manifests_dir: Path, *, count: int) -> list[int]:
    """``count`` local ports after the highest one any manifest of the project uses."""
    used = [
        int(match)
        for path in manifests_dir.glob("*/*.yaml")
        for match in re.findall(r"(?m)^\s+port:\s*(\d+)\s*$", path.read_text(encoding="utf-8"))
    ]
    start = max(used, default=FIRST_PORT - 1) + 1
    if start + count - 1 > 65535:
        raise ProjectError("no local port left above the project's highest one; set target.port")
    return list(range(start, start + count))


def _smoke_rows(
    others: list[ModelDefinition], env_dir: Path, feature_service: str
) -> list[dict[str, Any]]:
    """The smoke-test rows of the first model in ``env_dir`` that reads ``feature_service``."""
    from model_deploy.errors import ManifestError
    from model_deploy.manifest.loader import load_manifest

    for other in others:
        path = env_dir / f"{other.model.name}.yaml"
        if other.model.feature_service != feature_service or not path.is_file():
            continue
        try:
            cases = load_manifest(path=path).manifest.smoke_tests
        except ManifestError:
            continue  # its own plan reports it; this model just gets no rows from it
        if cases:
            return [{"name": case.name, "row": case.instances[0]} for case in cases]
    return []
