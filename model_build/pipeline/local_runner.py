"""Run the build pipeline of one model on this machine.

validate -> training set -> label check -> train -> evaluate -> plots -> monitoring baseline ->
explain -> bias -> gate -> track -> register (the model steps are in
:mod:`model_build.pipeline.model_steps`).
Each run writes a folder ``<run_dir>/<run_id>/``::

    validation.json      data gate verdict per source
    training_set.json    rows, label rate, time range, per-feature statistics, data hash
    bundle/              the model bundle (an MLflow model folder: MLmodel, model.pkl, ...)
    evaluation.json      task, holdout metrics, per-class tables, calibration, importance,
                         explanations, bias, lineage, gate verdict
    plots/               per task (see model_build.pipeline.plots)
    baseline/            the monitoring baseline: statistics.json, constraints.json (Model
                         Monitor's formats), baseline.json, reference.parquet; registered with
                         the version (see model_build.pipeline.steps.baseline)
    explanations/        SHAP report and plots (see model_build.pipeline.steps.explain)
    bias.json            bias metrics of the declared sensitive attribute (when declared)
    gate.json            every gate check with its numbers
    run.json             summary: model, task, status, digests, metrics, registered version,
                         tracking link, step timings

Every run is tracked by ``tracker`` (an MLflow run with its artifacts and the bundle as its
model; :data:`~model_build.tracking.record.NO_TRACKING` by default); a run that fails before
its gate is tracked as ``failed`` with its error.

Warnings:
A blocked or failed run still writes ``run.json`` (status ``blocked`` or ``failed``) before the
error propagates. Whatever the build had to fall back on (no serving version to compare with,
a serving bundle that could not be re-scored) is a warning in the result and in ``run.json``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from foundation.files import write_json_atomic
from foundation.progress import SILENT, StepReporter
from model_build.definition.loader import load_definition
from model_build.errors import GateFailedError, TrackingError
from model_build.pipeline.model_steps import model_steps
from model_build.pipeline.result import BuildResult
from model_build.pipeline.run_record import RunRecord, Status, new_run_id
from model_build.pipeline.steps.labels import check_label
from model_build.pipeline.steps.training_set import (
    build_training_set,
    describe_feature_service,
    read_label,
)
from model_build.pipeline.steps.validate import validate_data
from model_build.tracking.record import NO_TRACKING, BuildRecord, Tracker, slipway_version

if TYPE_CHECKING:
    from feature_store.repo import FeatureRepo
    from model_build.definition.schema import ModelDefinition
    from model_build.pipeline.serving import ServingModel
    from model_build.pipeline.steps.gate import NoServingModel
    from model_build.pipeline.steps.training_set import TrainingSet
    from model_build.registry.protocol import ModelRegistry

__all__ = ["BuildResult", "Status", "new_run_id", "run_local", "run_training_set"]


def run_local(
    *,
    repo: FeatureRepo,
    model_path: Path,
    registry: ModelRegistry,
    run_dir: Path,
    serving: ServingModel | NoServingModel,
    now: datetime | None = None,
    run_id: str | None = None,
    git_commit: str | None = None,
    rescore: bool = True,
    register: bool = True,
    progress: StepReporter = SILENT,
    tracker: Tracker = NO_TRACKING,
) -> BuildResult:
    """Run every build step of one model locally and register the candidate if the gate passes.

    ``model_path`` is the model folder (or its ``model.yaml``); ``repo`` is the applied Feast
    repo with its data; ``registry`` is where the candidate is
    registered and the serving bundle fetched; each run gets a folder under ``run_dir``.
    ``serving`` is the version the gate compares with (see
    :func:`~model_build.pipeline.serving.find_serving`), or an explicit
    :class:`~model_build.pipeline.steps.gate.NoServingModel`. ``now`` is the clock of the data
    gate's freshness checks (the current time when None); ``git_commit`` defaults to
    ``git rev-parse HEAD``. With ``rescore`` the serving bundle is scored on this holdout (else
    its recorded metrics are used); with ``register`` a passing candidate is registered.
    ``progress`` is told when each step starts and ends (draws nothing by default);
    ``tracker`` records the run (nothing by default).

    Raises:
        DefinitionError: The model definition is invalid.
        ValidationFailedError: The data gate failed.
        LabelError: The label does not fit the task (before anything is trained).
        GateFailedError: The candidate was blocked; the message gives the numbers.
        PipelineError: A step failed; the message names it.
        RegistryError: Registration failed.
    """
    run = RunRecord(run_id=run_id or new_run_id(), run_dir=run_dir, progress=progress)
    try:
        return _build(
            run,
            repo=repo,
            model_path=model_path,
            registry=registry,
            serving=serving,
            now=now,
            git_commit=git_commit,
            rescore=rescore,
            register=register,
            tracker=tracker,
        )
    except GateFailedError as exc:
        run.finish(status="blocked", error=str(exc))
        raise
    except Exception as exc:
        _track_failure(run, tracker=tracker, error=exc)
        run.finish(status="failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _build(
    run: RunRecord,
    *,
    repo: FeatureRepo,
    model_path: Path,
    registry: ModelRegistry,
    serving: ServingModel | NoServingModel,
    now: datetime | None,
    git_commit: str | None,
    rescore: bool,
    register: bool,
    tracker: Tracker,
) -> BuildResult:
    folder = run.folder
    definition = run.step(
        "definition", "Load the model definition", lambda: load_definition(path=model_path)
    )
    task = definition.task
    source = str(model_path / "model.yaml" if model_path.is_dir() else model_path)
    run.summary.update(
        model_name=definition.name, task=str(task), params_digest=definition.digest()
    )
    run.summary["model_path"] = source
    service = definition.model.feature_service
    info = run.step(
        "feature_service",
        f"Read feature service {service}",
        lambda: describe_feature_service(store=repo.open_store(), name=service),
    )
    sources = [definition.data.entity_source, *info.sources]
    validation = run.step(
        "validate",
        f"Validate data ({', '.join(dict.fromkeys(sources))})",
        lambda: validate_data(repo_path=repo.path, sources=sources, now=now),
    )
    write_json_atomic(folder / "validation.json", validation.summary())
    data = definition.data
    label = run.step(
        "label",
        f"Check the label ({data.label}, {task})",
        lambda: check_label(
            read_label(repo=repo, name=data.entity_source, label=data.label),
            task=task,
            label=data.label,
            source=source,
            max_classes=data.max_classes,
        ),
    )
    training_set = run.step(
        "training_set",
        "Build the point-in-time training set",
        lambda: build_training_set(
            repo=repo,
            data=definition.data,
            feature_service=service,
            extra=[definition.bias.attribute] if definition.bias else [],
        ),
    )
    return model_steps(
        run,
        definition=definition,
        source=source,
        training_set=training_set,
        registry=registry,
        serving=serving,
        git_commit=git_commit,
        rescore=rescore,
        register=register,
        tracker=tracker,
        checked=label,
    )


def run_training_set(
    *,
    definition: ModelDefinition,
    training_set: TrainingSet,
    registry: ModelRegistry,
    run_dir: Path,
    serving: ServingModel | NoServingModel,
    run_id: str | None = None,
    git_commit: str | None = None,
    rescore: bool = True,
    register: bool = True,
    progress: StepReporter = SILENT,
    tracker: Tracker = NO_TRACKING,
) -> BuildResult:
    """Run the model steps (label check to register) on a training set built elsewhere.

    The same steps as :func:`run_local` after its data steps (no Feast, no data gate): for a
    training set saved by the SageMaker PrepareData job, or built by your own code.

    Raises:
        LabelError: The label does not fit the task.
        GateFailedError: The candidate was blocked.
        PipelineError: A step failed.
        RegistryError: Registration failed.
    """
    run = RunRecord(run_id=run_id or new_run_id(), run_dir=run_dir, progress=progress)
    source = str(definition.folder / "model.yaml") if definition.folder else definition.name
    run.summary.update(
        model_name=definition.name, task=str(definition.task), params_digest=definition.digest()
    )
    try:
        return model_steps(
            run,
            definition=definition,
            source=source,
            training_set=training_set,
            registry=registry,
            serving=serving,
            git_commit=git_commit,
            rescore=rescore,
            register=register,
            tracker=tracker,
        )
    except GateFailedError as exc:
        run.finish(status="blocked", error=str(exc))
        raise
    except Exception as exc:
        _track_failure(run, tracker=tracker, error=exc)
        run.finish(status="failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _track_failure(run: RunRecord, *, tracker: Tracker, error: Exception) -> None:
    """Track a run that failed before it was tracked; a tracking failure becomes a warning."""
    name = run.summary.get("model_name")
    if "tracking" in run.summary or not name or isinstance(error, TrackingError):
        return
    record = BuildRecord(
        model_name=str(name),
        run_name=run.run_id,
        status="failed",
        params={},
        metrics={f"seconds.{k}": v for k, v in run.timings.items()},
        tags={
            "slipway.model_name": str(name),
            "slipway.run_id": run.run_id,
            "slipway.failed_step": str(run.summary.get("failed_step", "")),
            "slipway.error": f"{type(error).__name__}: {error}"[:5000],
            "slipway.slipway_version": slipway_version(),
            "mlflow.source.name": "slipway build run",
        },
        run_folder=run.folder,
    )
    try:
        link = tracker.log_build(record)
    except TrackingError as exc:
        run.warn(f"the failed run was not tracked: {exc}")
        return
    if link is not None:
        run.summary["tracking"] = link.model_dump()
