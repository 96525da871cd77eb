"""The model bundle: what a trained model is on disk, for the builder and every server.

A bundle is a folder holding ``model.joblib`` (a fitted scikit-learn compatible estimator) and
``bundle.json`` (the ordered feature list the estimator expects, the task, the class labels, the
decision threshold and free-form metadata). ``model_build`` writes bundles; the inference server
and deploy targets load them. The digest covers both files, so it identifies the model exactly.

A classifier's estimator exposes ``predict_proba`` whose columns follow ``classes`` (column ``i``
is the probability of ``classes[i]``); a regressor exposes ``predict``. A bundle written before
tasks existed has neither ``task`` nor ``classes`` in ``bundle.json``: it loads as ``binary``
with ``classes`` None (its server answers labels 0/1 and the probability of the label 1, as it
always did).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.errors import SlipwayError
from model_bundle.task import DEFAULT_TASK, Task

MODEL_FILE = "model.joblib"
META_FILE = "bundle.json"


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
        metadata: Free-form facts (model name, version, feature service, metrics...).
        task: What the model predicts.
        classes: Class labels of a classifier in ``predict_proba`` column order (JSON values:
            integers, strings or booleans); None for a regressor and for a bundle written
            before classes were recorded.
    """

    estimator: Any
    features: list[str]
    threshold: float | None = 0.5
    metadata: dict[str, Any] = field(default_factory=dict)
    task: Task = DEFAULT_TASK
    classes: list[Any] | None = None


def save_bundle(bundle: ModelBundle, *, directory: Path) -> str:
    """Write a bundle into ``directory`` and return its digest, ``sha256:<hex>``.

    The folder is created if needed; existing bundle files are replaced.
    """
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(bundle.estimator, directory / MODEL_FILE, compress=3)
    meta = {
        "features": bundle.features,
        "threshold": bundle.threshold,
        "metadata": bundle.metadata,
        "task": str(bundle.task),
        "classes": bundle.classes,
    }
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return bundle_digest(directory=directory)


def load_bundle(*, directory: Path) -> ModelBundle:
    """Load a bundle written by :func:`save_bundle`.

    Raises:
        BundleError: A file is missing or cannot be read; the message names it.
    """
    import joblib

    meta_path, model_path = directory / META_FILE, directory / MODEL_FILE
    for path in (meta_path, model_path):
        if not path.is_file():
            raise BundleError(f"{path}: file not found (not a model bundle?)")
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
    try:
        estimator = joblib.load(model_path)
    except (OSError, ValueError, EOFError, ImportError, AttributeError) as exc:
        raise BundleError(f"{model_path}: cannot load the model: {exc}") from exc
    if task is Task.BINARY and threshold is None:
        threshold = 0.5
    return ModelBundle(
        estimator=estimator,
        features=features,
        threshold=threshold,
        metadata=dict(meta.get("metadata") or {}),
        task=task,
        classes=classes,
    )


def bundle_digest(*, directory: Path) -> str:
    """Digest of a bundle's files (names and bytes), ``sha256:<hex>``, stable across machines."""
    digest = hashlib.sha256()
    for name in (META_FILE, MODEL_FILE):
        digest.update(name.encode())
        digest.update((directory / name).read_bytes())
    return f"sha256:{digest.hexdigest()}"


def pack_bundle(*, directory: Path, archive: Path) -> Path:
    """Pack a bundle as ``archive`` (``model.tar.gz``, SageMaker's layout: files at the root).

    Returns the archive path.
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name in (META_FILE, MODEL_FILE):
            info = tar.gettarinfo(str(directory / name), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with (directory / name).open("rb") as handle:
                tar.addfile(info, handle)
    return archive


def unpack_bundle(*, archive: Path, directory: Path) -> Path:
    """Unpack a ``model.tar.gz`` written by :func:`pack_bundle`; return the folder of bundle files.

    Raises:
        BundleError: The archive is unreadable or holds unexpected paths.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.name in (META_FILE, MODEL_FILE)]
            if len(members) != 2:
                raise BundleError(f"{archive}: expected {META_FILE} and {MODEL_FILE} at the root")
            tar.extractall(directory, members=members, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"{archive}: cannot unpack: {exc}") from exc
    return directory
