"""The model bundle: what a trained model is on disk, for the builder and every server.

A bundle is a folder that is an **MLflow model** (see :mod:`model_bundle.mlmodel`): ``MLmodel``
(``sklearn`` and ``python_function`` flavours, signature, input example), ``model.pkl`` (the
fitted scikit-learn compatible estimator, cloudpickle), ``requirements.txt``,
``python_env.yaml``, ``conda.yaml``, the input example files, and Slipway's ``bundle.json`` (the
ordered feature list the estimator expects, the task, the class labels, the decision threshold
and free-form metadata). ``explain_background.json`` (optional) holds the rows the model-agnostic
explainer compares with. ``model_build`` writes bundles; the inference server, the SageMaker
container and deploy targets load them, and so does ``mlflow.pyfunc.load_model``. The digest
covers every file of the folder (names and bytes), so it identifies the model exactly; every
file is written deterministically, so the same model gives the same digest.

A classifier's estimator exposes ``predict_proba`` whose columns follow ``classes`` (column ``i``
is the probability of ``classes[i]``); a regressor exposes ``predict``.

Older bundles keep loading: a folder of ``bundle.json`` and ``model.joblib`` (no ``MLmodel``) is
read with joblib, and its digest is what it always was. A bundle written before tasks existed
has neither ``task`` nor ``classes`` in ``bundle.json``: it loads as ``binary`` with ``classes``
None (its server answers labels 0/1 and the probability of the label 1, as it always did).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.errors import SlipwayError
from model_bundle.mlmodel import (
    MLMODEL_FILE,
    MODEL_FILE,
    frame_rows,
    read_flavor,
    write_mlflow_files,
)
from model_bundle.task import DEFAULT_TASK, Task

if TYPE_CHECKING:
    import pandas as pd

META_FILE: Final = "bundle.json"
LEGACY_MODEL_FILE: Final = "model.joblib"
BACKGROUND_FILE: Final = "explain_background.json"
FORMAT: Final = 2
"""``bundle.json`` format: 2 is the MLflow model folder; 1 (or none) is joblib."""

__all__ = [
    "BACKGROUND_FILE",
    "LEGACY_MODEL_FILE",
    "META_FILE",
    "MLMODEL_FILE",
    "MODEL_FILE",
    "BundleError",
    "ModelBundle",
    "bundle_digest",
    "bundle_files",
    "load_bundle",
    "pack_bundle",
    "save_bundle",
    "unpack_bundle",
]


class BundleError(SlipwayError):
    """A model bundle is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class ModelBundle:
    """A trained model plus what is needed to call it correctly.

    Attributes:
        estimator: Fitted estimator over ``features`` in order: ``predict_proba`` for a
            classifier (columns in ``classes`` order), ``predict`` for a regressor.
        features: Ordered feature names (Feast feature names, without the view prefix).
        threshold: Binary only: probability of the positive class (``classes[1]``) at or above
            which the predicted label is the positive class; None for the other tasks.
        metadata: Free-form facts (model name, version, feature service, metrics...); the
            ``categorical`` entry lists the string features (the signature's ``string``
            columns).
        task: What the model predicts.
        classes: Class labels of a classifier in ``predict_proba`` column order (JSON values:
            integers, strings or booleans); None for a regressor and for a bundle written
            before classes were recorded.
        background: Input rows the model-agnostic explainer compares with (a pandas
            DataFrame of ``features``), or None.
    """

    estimator: Any
    features: list[str]
    threshold: float | None = 0.5
    metadata: dict[str, Any] = field(default_factory=dict)
    task: Task = DEFAULT_TASK
    classes: list[Any] | None = None
    background: Any = None


def save_bundle(
    bundle: ModelBundle, *, directory: Path, example: pd.DataFrame | None = None
) -> str:
    """Write a bundle (an MLflow model folder) into ``directory``; return its digest.

    The folder is created if needed and every bundle file in it is replaced. ``example``
    (a few input rows) is saved as the MLflow input example; without it the first five rows
    of ``bundle.background`` are, when there is one. The digest is ``sha256:<hex>`` (see
    :func:`bundle_digest`).
    """
    import cloudpickle  # type: ignore[import-untyped]

    if example is None and bundle.background is not None:
        example = bundle.background.head(5)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in bundle_files(directory):
        (directory / stale).unlink()
    with (directory / MODEL_FILE).open("wb") as handle:
        cloudpickle.dump(bundle.estimator, handle, protocol=5)
    categorical = [str(c) for c in bundle.metadata.get("categorical") or []]
    n_classes = len(bundle.classes or (0, 1)) if bundle.task.is_classification else 0
    meta = {
        "format": FORMAT,
        "features": bundle.features,
        "threshold": bundle.threshold,
        "metadata": bundle.metadata,
        "task": str(bundle.task),
        "classes": bundle.classes,
    }
    write_mlflow_files(
        directory,
        estimator=bundle.estimator,
        features=list(bundle.features),
        categorical=categorical,
        n_classes=n_classes,
        metadata={"bundle": META_FILE, "task": str(bundle.task), "classes": bundle.classes},
        example=example,
    )
    if bundle.background is not None and len(bundle.background):
        data = frame_rows(bundle.background, bundle.features)
        rows = {"columns": list(bundle.features), "data": data}
        (directory / BACKGROUND_FILE).write_text(json.dumps(rows, allow_nan=False) + "\n")
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return bundle_digest(directory=directory)


def load_bundle(*, directory: Path) -> ModelBundle:
    """Load a bundle written by :func:`save_bundle` (or an older joblib bundle).

    Raises:
        BundleError: A file is missing or cannot be read; the message names it.
    """
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise BundleError(f"{meta_path}: file not found (not a model bundle?)")
    mlflow_model = (directory / MLMODEL_FILE).is_file()
    try:
        name, serialization = (
            read_flavor(directory) if mlflow_model else (LEGACY_MODEL_FILE, "joblib")
        )
    except (OSError, ValueError) as exc:
        raise BundleError(f"{directory / MLMODEL_FILE}: invalid MLflow model: {exc}") from exc
    model_path = directory / name
    if not model_path.is_file():
        raise BundleError(f"{model_path}: file not found (not a model bundle?)")
    try:
        meta = json.loads(meta_path.read_text())
        features = [str(f) for f in meta["features"]]
        task = Task(meta.get("task") or DEFAULT_TASK)
        raw_threshold = meta.get("threshold", 0.5 if task is Task.BINARY else None)
        threshold = None if raw_threshold is None else float(raw_threshold)
        classes = meta.get("classes")
        if classes is not None and not isinstance(classes, list):
            raise TypeError(f"classes must be a list, got {type(classes).__name__}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{meta_path}: invalid bundle metadata: {exc}") from exc
    estimator = _load_estimator(model_path, serialization=serialization)
    if task is Task.BINARY and threshold is None:
        threshold = 0.5
    return ModelBundle(
        estimator=estimator,
        features=features,
        threshold=threshold,
        metadata=dict(meta.get("metadata") or {}),
        task=task,
        classes=classes,
        background=_background(directory / BACKGROUND_FILE, features=features),
    )


def _load_estimator(path: Path, *, serialization: str) -> Any:
    try:
        if serialization == "joblib":
            import joblib

            return joblib.load(path)
        if serialization in ("cloudpickle", "pickle"):
            import cloudpickle

            with path.open("rb") as handle:
                return cloudpickle.load(handle)
    except (OSError, ValueError, EOFError, ImportError, AttributeError, TypeError) as exc:
        raise BundleError(f"{path}: cannot load the model: {exc}") from exc
    except Exception as exc:
        raise BundleError(f"{path}: cannot load the model: {type(exc).__name__}: {exc}") from exc
    raise BundleError(
        f"{path}: serialization format {serialization!r} is not supported "
        "(Slipway writes cloudpickle; pickle and joblib also load)"
    )


def _background(path: Path, *, features: list[str]) -> Any:
    if not path.is_file():
        return None
    import pandas as pd

    try:
        doc = json.loads(path.read_text())
        frame = pd.DataFrame(doc["data"], columns=doc["columns"])
        return frame[features]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{path}: invalid explainer background: {exc}") from exc


def bundle_files(directory: Path) -> list[str]:
    """The names of a bundle's files: every regular, non-hidden file of the folder, sorted."""
    if not directory.is_dir():
        return []
    return sorted(
        entry.name
        for entry in directory.iterdir()
        if entry.is_file() and not entry.is_symlink() and not entry.name.startswith(".")
    )


def bundle_digest(*, directory: Path) -> str:
    """Digest of a bundle's files (names and bytes, in name order), ``sha256:<hex>``.

    Stable across machines; an older bundle (``bundle.json`` and ``model.joblib``) keeps the
    digest it was registered with.
    """
    digest = hashlib.sha256()
    for name in bundle_files(directory):
        digest.update(name.encode())
        digest.update((directory / name).read_bytes())
    return f"sha256:{digest.hexdigest()}"


def pack_bundle(*, directory: Path, archive: Path) -> Path:
    """Pack a bundle as ``archive`` (``model.tar.gz``, SageMaker's layout: files at the root).

    Returns the archive path.
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name in bundle_files(directory):
            info = tar.gettarinfo(str(directory / name), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with (directory / name).open("rb") as handle:
                tar.addfile(info, handle)
    return archive


def unpack_bundle(*, archive: Path, directory: Path) -> Path:
    """Unpack a ``model.tar.gz`` written by :func:`pack_bundle`; return the folder of bundle files.

    Raises:
        BundleError: The archive is unreadable, holds no ``bundle.json`` at its root, or holds
            paths outside its root.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            nested = [m.name for m in members if "/" in m.name.strip("./") or not m.isfile()]
            if nested:
                raise BundleError(f"{archive}: expected files at the root only, got {nested[:3]}")
            if META_FILE not in {m.name.removeprefix("./") for m in members}:
                raise BundleError(f"{archive}: expected {META_FILE} at the root")
            tar.extractall(directory, members=members, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"{archive}: cannot unpack: {exc}") from exc
    return directory
