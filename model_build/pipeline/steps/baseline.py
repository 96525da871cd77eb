"""The monitoring baseline step: what the training data and the candidate's answers looked like.

The baseline (:func:`model_monitor.baseline.build_baseline`) describes every row of the training
set (train and holdout parts) as the model reads it, in the model's input order, plus the
candidate's answers on those rows, scored as the inference server scores them
(:func:`model_bundle.scoring.predict_columns`):

* ``binary``: ``prediction`` is the positive-class probability, ``predicted_label`` the label
  at the model's threshold;
* ``multiclass``: ``prediction`` is the probability of the predicted (most probable) class,
  ``predicted_label`` that class (the library monitors one score and one label per row);
* ``regression``: ``prediction`` is the predicted value, with no label.

It is written to the run folder's ``baseline/`` (so the tracker logs it as the run's
``baseline`` artifacts) and registered with the version. The reference sample is seeded with
the definition's training seed: the same training set and bundle give byte-identical files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from model_bundle.task import Task

if TYPE_CHECKING:
    from model_build.pipeline.run_record import RunRecord
    from model_build.pipeline.steps.training_set import TrainingSet
    from model_bundle.bundle import ModelBundle
    from model_monitor.baseline import Baseline

BASELINE_DIR: Final = "baseline"
"""The run folder's baseline folder (also the tracker's ``baseline`` artifact path)."""


def build_monitoring_baseline(
    *, bundle: ModelBundle, training_set: TrainingSet, directory: Path, seed: int = 0
) -> Baseline:
    """Build the baseline of ``training_set`` scored by ``bundle`` and write it to ``directory``.

    Raises:
        BaselineError: The frame cannot be baselined (e.g. a feature has a reserved name such
            as ``prediction``).
        BundleError: The bundle cannot score the training rows.
    """
    from model_bundle.scoring import model_input, predict_columns
    from model_monitor.baseline import build_baseline

    frame = training_set.frame
    features = model_input(bundle, frame)[list(bundle.features)]
    answer = predict_columns(bundle, frame)
    prediction, label = _prediction(answer, task=bundle.task)
    baseline = build_baseline(
        features=features,
        prediction=prediction,
        predicted_label=label,
        task="regression" if bundle.task is Task.REGRESSION else "classification",
        seed=seed,
    )
    baseline.write(directory=directory)
    return baseline


def baseline_step(
    run: RunRecord, *, bundle: ModelBundle, training_set: TrainingSet, seed: int
) -> Path | None:
    """Run the baseline step in ``run``: the folder written, or None with a warning.

    A training frame the library cannot baseline (a reserved column name, say) is a warning,
    not a failure: the version is then registered without a baseline and cannot be monitored
    until it is rebuilt. ``run.summary["monitoring_baseline"]`` records the folder and rows.
    """
    from model_monitor.errors import BaselineError

    directory = run.folder / BASELINE_DIR

    def build() -> Baseline | None:
        try:
            return build_monitoring_baseline(
                bundle=bundle, training_set=training_set, directory=directory, seed=seed
            )
        except BaselineError as exc:
            run.warn(f"no monitoring baseline (the version cannot be monitored): {exc}")
            return None

    baseline = run.step("baseline", "Baseline for monitoring", build)
    if baseline is None:
        return None
    run.summary["monitoring_baseline"] = {
        "folder": str(directory),
        "rows": baseline.rows,
        "reference_rows": len(baseline.reference),
        "columns": [c.name for c in baseline.schema.columns],
    }
    return directory


def _prediction(answer: dict[str, Any], *, task: Task) -> tuple[Any, Any]:
    """``(score, label)`` per row from :func:`~model_bundle.scoring.predict_columns`' columns."""
    import numpy as np

    if task is Task.REGRESSION:
        return answer["prediction"], None
    if task is Task.BINARY:
        return answer["probability"], answer["label"]
    probabilities = np.column_stack([v for k, v in answer.items() if k.startswith("p_")])
    return probabilities.max(axis=1), answer["label"]
