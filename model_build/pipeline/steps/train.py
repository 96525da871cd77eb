"""Step 3, train: the definition's estimator fitted on the earlier part of the training set.

What is fitted is in :mod:`model_build.pipeline.estimators` (built in, import path or entry
point). Fitting runs under a fixed OpenMP/BLAS thread limit, so the same data, definition and
seed give the same fitted model, the same pickle bytes and therefore the same bundle digest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from model_build.errors import PipelineError
from model_build.pipeline.estimators import MISSING_CATEGORY, code_digest, make_trainer
from model_bundle.bundle import ModelBundle
from model_bundle.task import Task

if TYPE_CHECKING:
    from model_build.definition.schema import ModelDefinition
    from model_build.pipeline.steps.labels import LabelInfo
    from model_build.pipeline.steps.training_set import TrainingSet

__all__ = [
    "BACKGROUND_ROWS",
    "MISSING_CATEGORY",
    "SplitInfo",
    "TrainedModel",
    "make_bundle",
    "split_by_time",
]

BACKGROUND_ROWS = 100
"""Training rows kept in the bundle for the model-agnostic explainer (a seeded sample)."""


@dataclass(frozen=True)
class SplitInfo:
    """Where the time-based holdout starts.

    Attributes:
        train_rows: Rows used for fitting (event time before ``cutoff``).
        holdout_rows: Rows used for evaluation (event time at or after ``cutoff``).
        cutoff: First event time of the holdout (ISO 8601).
        train_label_rate: Mean label of the training part: the share of the positive class
            (binary), the mean target (regression), None (multiclass).
        holdout_label_rate: The same for the holdout.
    """

    train_rows: int
    holdout_rows: int
    cutoff: str
    train_label_rate: float | None
    holdout_label_rate: float | None


@dataclass(frozen=True)
class TrainedModel:
    """A fitted estimator and how it was fitted.

    Attributes:
        estimator: The fitted estimator (``predict_proba`` or ``predict`` over ``features``).
        features: Ordered input features.
        split: The train/holdout split.
        seconds: Fit time.
        classes: Class labels in ``predict_proba`` column order (classification), else None.
    """

    estimator: Any
    features: list[str]
    split: SplitInfo
    seconds: float
    classes: list[Any] | None = None


def split_by_time(
    training_set: TrainingSet,
    *,
    holdout_fraction: float,
    task: Task = Task.BINARY,
    classes: list[Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, SplitInfo]:
    """Cut the latest ``holdout_fraction`` of rows (by event time) off as the holdout.

    Returns ``(train, holdout, split)`` of the sorted training set; ``holdout_fraction`` is in
    (0, 0.5]. Rows sharing the cut-off timestamp all go to the holdout, so no moment is split
    across both parts. ``classes`` (sorted labels) name the positive class of a binary task
    (the second); without them it is the label 1.

    Raises:
        PipelineError: Either part would be empty or hold a single label class (or value).
    """
    frame = training_set.frame
    n_rows = len(frame)
    n_holdout = int(np.ceil(n_rows * holdout_fraction))
    if n_rows < 2 or n_holdout >= n_rows:
        raise PipelineError(f"train: {n_rows} rows are too few for a holdout of {n_holdout}")
    times = frame[training_set.timestamp]
    cutoff = times.iloc[n_rows - n_holdout]
    is_holdout = (times >= cutoff).to_numpy()
    train, holdout = frame[~is_holdout], frame[is_holdout]
    label = training_set.label
    kind = "label class" if task.is_classification else "label value"
    for part, rows in (("training part", train), ("holdout", holdout)):
        if rows[label].nunique() < 2:
            raise PipelineError(f"train: the {part} has {len(rows)} rows but a single {kind}")
    split = SplitInfo(
        train_rows=len(train),
        holdout_rows=len(holdout),
        cutoff=pd.Timestamp(cutoff).isoformat(),
        train_label_rate=_rate(train[label], task=task, classes=classes),
        holdout_label_rate=_rate(holdout[label], task=task, classes=classes),
    )
    return train, holdout, split


def _rate(values: pd.Series, *, task: Task, classes: list[Any] | None) -> float | None:
    if task is Task.MULTICLASS:
        return None
    if task is Task.BINARY and classes is not None:
        return float((values == classes[1]).mean())
    return float(values.astype("float64").mean())


@contextmanager
def thread_limit(n_threads: int) -> Iterator[None]:
    """Limit OpenMP and BLAS threads to ``n_threads`` in the block (deterministic reductions)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=n_threads):
        yield


def train_model(
    *, training_set: TrainingSet, definition: ModelDefinition, label: LabelInfo
) -> TrainedModel:
    """Fit the estimator on the training part of a time-based split; return it with its split.

    ``training_set`` is sorted and point-in-time joined; ``label`` is the checked label (see
    :func:`~model_build.pipeline.steps.labels.check_label`).

    Raises:
        PipelineError: The split is unusable or fitting failed.
    """
    train, _, split = split_by_time(
        training_set,
        holdout_fraction=definition.data.holdout_fraction,
        task=definition.task,
        classes=label.classes,
    )
    fit = make_trainer(
        definition=definition,
        frame=train,
        features=list(training_set.features),
        categorical=list(training_set.info.categorical),
        label=training_set.label,
        classes=label.classes,
    )
    started = time.perf_counter()
    with thread_limit(definition.train.n_threads):
        estimator = fit()
    return TrainedModel(
        estimator=estimator,
        features=list(training_set.features),
        split=split,
        seconds=time.perf_counter() - started,
        classes=label.classes,
    )


def make_bundle(
    *, model: TrainedModel, training_set: TrainingSet, definition: ModelDefinition
) -> ModelBundle:
    """Wrap a fitted model as a bundle (not yet written) whose metadata depends on data and code.

    Nothing run-specific (run id, time, git SHA) goes into the bundle, so its digest is a
    function of the training data, the definition, the model folder's code and the library
    versions. The bundle's explainer background (and MLflow input example) is a seeded sample
    of :data:`BACKGROUND_ROWS` rows of the training part.
    """
    info = training_set.info
    train = definition.train
    metadata: dict[str, Any] = {
        "model_name": definition.name,
        "feature_service": info.name,
        "entity_keys": list(info.entity_keys),
        "request_fields": list(info.request_fields),
        "categorical": list(info.categorical),
        "data_hash": training_set.data_hash,
        "params_digest": definition.digest(),
        "estimator": train.estimator or f"entrypoint:{train.entrypoint}",
        "split": model.split.__dict__,
    }
    if train.entrypoint:
        metadata["code_digest"] = code_digest(definition.folder)
    frame = training_set.frame
    train_part = frame[frame[training_set.timestamp] < pd.Timestamp(model.split.cutoff)]
    size = min(BACKGROUND_ROWS, len(train_part))
    background = train_part.sample(n=size, random_state=train.seed).sort_index()
    return ModelBundle(
        estimator=model.estimator,
        features=list(model.features),
        threshold=definition.threshold,
        metadata=metadata,
        task=definition.task,
        classes=model.classes,
        background=background[list(model.features)].reset_index(drop=True),
    )
