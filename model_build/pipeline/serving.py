"""The version serving in an environment, as the gate's baseline.

Which version serves where is the caller's knowledge (the CLI reads the environment's manifest
through ``model_deploy``); this module takes the environment name and the version number, looks
the version up in the registry (:func:`find_serving`) and turns it into the gate's
:class:`~model_build.pipeline.steps.gate.Baseline` (:func:`serving_baseline`): preferably its
bundle re-scored on this build's holdout, so both models are judged on the same rows, else the
metrics recorded at its registration, with a warning saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_build.errors import PipelineError, RegistryError, VersionNotFoundError
from model_build.pipeline.steps.gate import Baseline, NoServingModel, recorded_baseline
from model_bundle.bundle import BundleError
from model_bundle.task import Task

if TYPE_CHECKING:
    import pandas as pd

    from model_build.registry.protocol import ModelRegistry, ModelVersion


@dataclass(frozen=True)
class ServingModel:
    """A registered version serving in an environment.

    Attributes:
        version: The registered version.
        environment: The environment it serves in (``prod``...).
        source: Where that was read (a manifest path), for messages.
    """

    version: ModelVersion
    environment: str
    source: str = ""


@dataclass(frozen=True)
class HoldoutScoring:
    """How the candidate's holdout is scored, so the serving version is scored the same way.

    Attributes:
        holdout: The candidate's holdout rows (features and label).
        label: Label column.
        threshold: Binary decision threshold (the candidate's, so thresholded metrics compare).
        bins: Calibration bins.
        directory: Scratch folder for the fetched bundle.
        task: The candidate's task (a serving bundle of another task is not re-scored).
        metrics: The metrics the candidate reports (the baseline keeps the same ones).
    """

    holdout: pd.DataFrame
    label: str
    threshold: float | None
    bins: int
    directory: Path
    task: Task = Task.BINARY
    metrics: tuple[str, ...] | None = None


def find_serving(
    *, registry: ModelRegistry, model_name: str, version: int, environment: str, source: str
) -> ServingModel:
    """The registered ``model_name:version`` that serves in ``environment``.

    ``source`` names where the version number was read, for the error message.

    Raises:
        PipelineError: The registry has no such version.
    """
    try:
        found = registry.get(model_name=model_name, version=version)
    except VersionNotFoundError as exc:
        raise PipelineError(
            f"{source}: field 'model.version': {model_name}:{version} is not in the registry"
        ) from exc
    return ServingModel(version=found, environment=environment, source=source)


def serving_baseline(
    serving: ServingModel | NoServingModel,
    *,
    registry: ModelRegistry,
    scoring: HoldoutScoring | None,
) -> tuple[Baseline | NoServingModel, list[str]]:
    """The gate's baseline for ``serving``, and the warnings of any fallback.

    With ``scoring`` the serving bundle is fetched and re-scored on the holdout; when it cannot
    be (fetch or load fails, features missing, scoring fails) the recorded metrics are used and
    a warning says why. Without ``scoring`` the recorded metrics are used, as asked.
    """
    if isinstance(serving, NoServingModel):
        return serving, [serving.reason] if serving.warning else []
    version, environment = serving.version, serving.environment
    if scoring is None:
        return recorded_baseline(version, environment=environment), []
    try:
        measured, problem = rescore_serving(registry=registry, serving=version, scoring=scoring)
    except (RegistryError, BundleError) as exc:
        measured, problem = None, f"cannot fetch or load its bundle: {exc}"
    if measured is None:
        warning = (
            f"{environment} {version.ref} was not re-scored on this holdout ({problem}); "
            "the gate compares with its recorded metrics"
        )
        return recorded_baseline(version, environment=environment), [warning]
    baseline = Baseline(
        ref=version.ref, metrics=measured, source="holdout", environment=environment
    )
    return baseline, []


def rescore_serving(
    *, registry: ModelRegistry, serving: ModelVersion, scoring: HoldoutScoring
) -> tuple[dict[str, float] | None, str]:
    """Score the serving version's bundle on the build's holdout.

    Returns its metrics and an empty string, or None and why it could not be scored (it needs
    features the holdout lacks, or its estimator failed on them).

    Raises:
        RegistryError: The bundle cannot be fetched.
        BundleError: The fetched bundle cannot be loaded.
    """
    from model_build.pipeline.steps.evaluate import holdout_scores, label_codes
    from model_bundle.bundle import load_bundle

    bundle_dir = registry.fetch_bundle(
        model_name=serving.model_name, version=serving.version, directory=scoring.directory
    )
    bundle = load_bundle(directory=bundle_dir)
    holdout = scoring.holdout
    if bundle.task is not scoring.task:
        return None, f"it is a {bundle.task} model and the candidate a {scoring.task} one"
    missing = [name for name in bundle.features if name not in holdout.columns]
    if missing:
        return None, f"the holdout lacks its features {', '.join(missing)}"
    labels = holdout[scoring.label]
    classes: list[Any] | None = bundle.classes
    if classes is None and bundle.task is Task.BINARY:
        classes = [0, 1]  # a bundle from before classes were recorded: a 0/1 label
    if classes is not None:
        unknown = sorted({_plain(v) for v in labels.unique()} - set(classes), key=repr)
        if unknown:
            return None, f"the holdout has classes it was not trained on ({unknown[:5]})"
    try:
        result, _ = holdout_scores(
            bundle.estimator,
            holdout[bundle.features],
            label_codes(labels, task=bundle.task, classes=classes),
            task=bundle.task,
            classes=classes,
            threshold=scoring.threshold,
            bins=scoring.bins,
        )
    except PipelineError as exc:
        return None, f"its estimator failed on the holdout: {exc}"
    metrics = result.metrics
    if scoring.metrics is not None:
        metrics = {k: v for k, v in metrics.items() if k in scoring.metrics}
    return metrics, ""


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value
