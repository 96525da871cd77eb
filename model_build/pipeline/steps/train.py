"""Step 3, train: a scikit-learn Pipeline fitted on the earlier part of the training set.

The estimator is ``ColumnTransformer`` (categorical features: constant imputation then one-hot;
numeric features: standard scaling or passthrough) followed by
``HistGradientBoostingClassifier`` with early stopping off and ``random_state`` set. Fitting runs
under a fixed OpenMP thread limit, so the same data, parameters and seed give the same fitted
model, the same pickle bytes and therefore the same bundle digest.
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
from model_bundle.bundle import ModelBundle

if TYPE_CHECKING:
    from model_build.pipeline.params import BuildParams, TrainParams
    from model_build.pipeline.steps.training_set import TrainingSet

MISSING_CATEGORY = "__missing__"


@dataclass(frozen=True)
class SplitInfo:
    """Where the time-based holdout starts.

    Attributes:
        train_rows: Rows used for fitting (event time before ``cutoff``).
        holdout_rows: Rows used for evaluation (event time at or after ``cutoff``).
        cutoff: First event time of the holdout (ISO 8601).
        train_label_rate: Share of positive labels in the training part.
        holdout_label_rate: Share of positive labels in the holdout.
    """

    train_rows: int
    holdout_rows: int
    cutoff: str
    train_label_rate: float
    holdout_label_rate: float


@dataclass(frozen=True)
class TrainedModel:
    """A fitted estimator and how it was fitted.

    Attributes:
        estimator: The fitted scikit-learn Pipeline (``predict_proba`` over ``features``).
        features: Ordered input features.
        split: The train/holdout split.
        seconds: Fit time.
    """

    estimator: Any
    features: list[str]
    split: SplitInfo
    seconds: float


def split_by_time(
    training_set: TrainingSet, *, holdout_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame, SplitInfo]:
    """Cut the latest ``holdout_fraction`` of rows (by event time) off as the holdout.

    Returns ``(train, holdout, split)`` of the sorted training set; ``holdout_fraction`` is in
    (0, 0.5]. Rows sharing the cut-off timestamp all go to the holdout, so no moment is split
    across both parts.

    Raises:
        PipelineError: Either part would be empty or hold a single label class.
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
    for part, rows in (("training part", train), ("holdout", holdout)):
        if rows[label].nunique() < 2:
            raise PipelineError(f"train: the {part} has {len(rows)} rows but a single label class")
    split = SplitInfo(
        train_rows=len(train),
        holdout_rows=len(holdout),
        cutoff=pd.Timestamp(cutoff).isoformat(),
        train_label_rate=float(train[label].mean()),
        holdout_label_rate=float(holdout[label].mean()),
    )
    return train, holdout, split


def build_estimator(*, features: list[str], categorical: list[str], params: TrainParams) -> Any:
    """Create the unfitted scikit-learn Pipeline over the ordered ``features``.

    ``Pipeline([("preprocess", ColumnTransformer), ("classifier", HistGB)])``; ``categorical`` is
    the subset of ``features`` holding strings; ``params`` give the estimator settings,
    hyperparameters and seed.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [name for name in features if name not in categorical]
    encode = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    transformers: list[tuple[str, Any, list[str]]] = []
    if categorical:
        transformers.append(("categorical", encode, list(categorical)))
    if numeric:
        scale = StandardScaler() if params.scale_numeric else "passthrough"
        transformers.append(("numeric", scale, numeric))
    hyper = params.hyperparameters
    classifier = HistGradientBoostingClassifier(
        learning_rate=hyper.learning_rate,
        max_iter=hyper.max_iter,
        max_leaf_nodes=hyper.max_leaf_nodes,
        max_depth=hyper.max_depth,
        min_samples_leaf=hyper.min_samples_leaf,
        l2_regularization=hyper.l2_regularization,
        early_stopping=False,
        random_state=params.seed,
    )
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


@contextmanager
def thread_limit(n_threads: int) -> Iterator[None]:
    """Limit OpenMP and BLAS threads to ``n_threads`` in the block (deterministic reductions)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=n_threads):
        yield


def train_model(*, training_set: TrainingSet, params: BuildParams) -> TrainedModel:
    """Fit the estimator on the training part of a time-based split; return it with its split.

    ``training_set`` is sorted and point-in-time joined; ``params`` give the holdout fraction,
    estimator, seed and threads.

    Raises:
        PipelineError: The split is unusable or fitting failed.
    """
    train, _, split = split_by_time(training_set, holdout_fraction=params.data.holdout_fraction)
    estimator = build_estimator(
        features=training_set.features,
        categorical=training_set.info.categorical,
        params=params.train,
    )
    started = time.perf_counter()
    try:
        with thread_limit(params.train.n_threads):
            estimator.fit(train[training_set.features], train[training_set.label].astype("int64"))
    except (ValueError, TypeError) as exc:
        raise PipelineError(f"train: fitting failed: {exc}") from exc
    return TrainedModel(
        estimator=estimator,
        features=list(training_set.features),
        split=split,
        seconds=time.perf_counter() - started,
    )


def make_bundle(
    *, model: TrainedModel, training_set: TrainingSet, params: BuildParams
) -> ModelBundle:
    """Wrap a fitted model as a bundle (not yet written) whose metadata depends on data and params.

    Nothing run-specific (run id, time, git SHA) goes into the bundle, so its digest is a
    function of the training data, the parameters and the library versions.
    """
    info = training_set.info
    return ModelBundle(
        estimator=model.estimator,
        features=list(model.features),
        threshold=params.evaluate.threshold,
        metadata={
            "model_name": params.model.name,
            "feature_service": info.name,
            "entity_keys": list(info.entity_keys),
            "request_fields": list(info.request_fields),
            "categorical": list(info.categorical),
            "data_hash": training_set.data_hash,
            "params_digest": params.digest(),
            "estimator": params.train.estimator,
            "split": model.split.__dict__,
        },
    )
