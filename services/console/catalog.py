"""Page 3: models, their versions, two versions side by side, plots and lineage.

Versions come from the registry the CLI uses (``SLIPWAY_REGISTRY``); the comparison is the
CLI's (:func:`model_build.registry.compare.compare_versions`). A version's build run folder
(``<run_dir>/<run_id>/``) gives its plots and its data gate verdict (``validation.json``);
its tracking link gives the MLflow run page when the store has a web address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from foundation.metrics import format_metric
from model_build.registry.compare import Comparison, compare_versions
from model_build.registry.protocol import ModelVersion
from services.console.errors import PageNotFoundError
from services.console.readers import Readers

#: A model name as the registry takes it (``NewVersion.model_name``).
MODEL_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9_])*$")
#: Names a plot or run id may have (nothing that walks out of the run folder).
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_model_name(model: str) -> None:
    """Refuse a name no model can have (before any registry call).

    Raises:
        PageNotFoundError: ``model`` is not a valid model name.
    """
    if len(model) > 63 or not MODEL_NAME.match(model):
        raise PageNotFoundError("no model has that name")


@dataclass(frozen=True)
class VersionRow:
    """One version as the model page lists it, with where it is deployed."""

    version: ModelVersion
    deployed_in: list[str]


def model_versions(readers: Readers, model: str) -> list[VersionRow]:
    """Every version of ``model``, newest first, with the environments whose manifest names it.

    Raises:
        PageNotFoundError: The registry has no version of ``model``.
    """
    check_model_name(model)
    versions = readers.versions(model)
    if not versions:
        raise PageNotFoundError(f"no model named {model!r} in the registry")
    where: dict[int, list[str]] = {}
    for key in readers.deployments:
        env, _, name = key.partition("/")
        if name != model:
            continue
        wanted = readers.desired_version(key)
        if wanted is not None:
            where.setdefault(wanted, []).append(env)
    return [
        VersionRow(version=v, deployed_in=where.get(v.version, []))
        for v in sorted(versions, key=lambda v: v.version, reverse=True)
    ]


def find_version(readers: Readers, model: str, number: int) -> ModelVersion:
    """Version ``number`` of ``model``.

    Raises:
        PageNotFoundError: It does not exist.
    """
    from model_build.errors import VersionNotFoundError

    check_model_name(model)
    try:
        return readers.registry.get(model_name=model, version=number)
    except VersionNotFoundError as exc:
        raise PageNotFoundError(f"{model}:{number} is not in the registry") from exc


def compare(readers: Readers, model: str, a: int, b: int) -> Comparison:
    """Version ``b`` of ``model`` against ``a`` (metrics side by side, lineage changes)."""
    return compare_versions(find_version(readers, model, a), find_version(readers, model, b))


def run_folder(run_dir: Path, run_id: str) -> Path | None:
    """The build run folder of ``run_id``, if it exists (and the id is a plain name)."""
    if not SAFE_NAME.match(run_id):
        return None
    folder = Path(run_dir) / run_id
    return folder if folder.is_dir() else None


def plots(run_dir: Path, run_id: str) -> list[str]:
    """The PNG plot names of a build run (``plots/*.png``), sorted."""
    folder = run_folder(run_dir, run_id)
    if folder is None:
        return []
    return sorted(p.name for p in (folder / "plots").glob("*.png") if SAFE_NAME.match(p.name))


def plot_path(run_dir: Path, run_id: str, name: str) -> Path:
    """The file of one plot.

    Raises:
        PageNotFoundError: The run or the plot does not exist, or a name is not plain.
    """
    folder = run_folder(run_dir, run_id)
    if folder is None or not SAFE_NAME.match(name) or not name.endswith(".png"):
        raise PageNotFoundError("no such plot")
    path = folder / "plots" / name
    if not path.is_file():
        raise PageNotFoundError("no such plot")
    return path


def tracking_url(version: ModelVersion) -> str | None:
    """The MLflow run page of a version, when its tracking store has a web address."""
    link = version.tracking
    if link is None or not link.run_url.startswith(("http://", "https://")):
        return None
    return link.run_url


def metric_text(name: str, value: float | None) -> str:
    """A metric as the CLI prints it."""
    return format_metric(name, value) if value is not None else "-"
