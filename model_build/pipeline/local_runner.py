"""Run the build pipeline of one model on this machine.

validate -> training set -> label check -> train -> evaluate -> plots -> gate -> register.
Each run writes a folder ``<run_dir>/<run_id>/``::

    validation.json      data gate verdict per source
    training_set.json    rows, label rate, time range, per-feature statistics, data hash
    bundle/              the model bundle (bundle.json, model.joblib)
    evaluation.json      task, holdout metrics, per-class tables, calibration, importance,
                         lineage, gate verdict
    plots/               per task (see model_build.pipeline.plots)
    gate.json            every gate check with its numbers
    run.json             summary: model, task, status, digests, metrics, registered version,
                         step timings,

Warnings:
A blocked or failed run still writes ``run.json`` (status ``blocked`` or ``failed``) before the
error propagates. Whatever the build had to fall back on (no serving version to compare with,
a serving bundle that could not be re-scored) is a warning in the result and in ``run.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from foundation.files import write_json_atomic
from foundation.progress import SILENT, StepReporter
from model_build.definition.loader import load_definition
from model_build.errors import GateFailedError
from model_build.pipeline.plots import write_plots
from model_build.pipeline.run_record import RunRecord, Status, new_run_id
from model_build.pipeline.serving import HoldoutScoring, ServingModel, serving_baseline
from model_build.pipeline.steps.evaluate import evaluate_model, write_evaluation
from model_build.pipeline.steps.gate import NoServingModel, check_gate, enforce_gate
from model_build.pipeline.steps.labels import check_label
from model_build.pipeline.steps.register import git_sha, new_version, register_model
from model_build.pipeline.steps.train import make_bundle, split_by_time, train_model
from model_build.pipeline.steps.training_set import (
    build_training_set,
    describe_feature_service,
    read_label,
)
from model_build.pipeline.steps.validate import validate_data
from model_bundle.bundle import save_bundle

if TYPE_CHECKING:
    from feature_store.repo import FeatureRepo
    from model_build.definition.schema import ModelDefinition
    from model_build.pipeline.steps.gate import GateResult
    from model_build.pipeline.steps.labels import LabelInfo
    from model_build.pipeline.steps.training_set import TrainingSet
    from model_build.registry.protocol import ModelRegistry, ModelVersion

__all__ = ["BuildResult", "Status", "new_run_id", "run_local", "run_training_set"]


@dataclass(frozen=True)
class BuildResult:
    """What a local build produced.

    Attributes:
        model_name: The model built.
        task: Its task (``binary``, ``multiclass``, ``regression``).
        run_id: Run identifier (folder name).
        run_dir: The run folder.
        status: ``registered`` (or ``passed`` when registration was skipped).
        metrics: Holdout metrics of the candidate.
        artifact_digest: Bundle digest.
        data_hash: Training data snapshot hash.
        gate: The gate verdict.
        version: The registered version, or None when registration was skipped.
        timings: Seconds per step.
        seconds: Total wall time.
        warnings: Every fallback the build took, one line each (also in ``run.json``).
    """

    model_name: str
    task: str
    run_id: str
    run_dir: Path
    status: Status
    metrics: dict[str, float]
    artifact_digest: str
    data_hash: str
    gate: GateResult
    version: ModelVersion | None
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


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
    ``progress`` is told when each step starts and ends (draws nothing by default).

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
        )
    except GateFailedError as exc:
        run.finish(status="blocked", error=str(exc))
        raise
    except Exception as exc:
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
        lambda: build_training_set(repo=repo, data=definition.data, feature_service=service),
    )
    return _model_steps(
        run,
        definition=definition,
        source=source,
        training_set=training_set,
        registry=registry,
        serving=serving,
        git_commit=git_commit,
        rescore=rescore,
        register=register,
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
        return _model_steps(
            run,
            definition=definition,
            source=source,
            training_set=training_set,
            registry=registry,
            serving=serving,
            git_commit=git_commit,
            rescore=rescore,
            register=register,
        )
    except GateFailedError as exc:
        run.finish(status="blocked", error=str(exc))
        raise
    except Exception as exc:
        run.finish(status="failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _model_steps(
    run: RunRecord,
    *,
    definition: ModelDefinition,
    source: str,
    training_set: TrainingSet,
    registry: ModelRegistry,
    serving: ServingModel | NoServingModel,
    git_commit: str | None,
    rescore: bool,
    register: bool,
    checked: LabelInfo | None = None,
) -> BuildResult:
    folder = run.folder
    task = definition.task
    write_json_atomic(folder / "training_set.json", training_set.stats())
    run.summary["data_hash"] = training_set.data_hash
    label = checked or run.step(
        "label",
        f"Check the label ({definition.data.label}, {task})",
        lambda: check_label(
            training_set.frame[training_set.label],
            task=task,
            label=training_set.label,
            source=source,
            max_classes=definition.data.max_classes,
        ),
    )
    model = run.step(
        "train",
        f"Train ({definition.train.estimator or definition.train.entrypoint})",
        lambda: train_model(training_set=training_set, definition=definition, label=label),
    )
    bundle = make_bundle(model=model, training_set=training_set, definition=definition)
    digest = run.step(
        "save_bundle", "Save the bundle", lambda: save_bundle(bundle, directory=folder / "bundle")
    )
    run.summary["artifact_digest"] = digest
    _, holdout, _ = split_by_time(
        training_set,
        holdout_fraction=definition.data.holdout_fraction,
        task=task,
        classes=label.classes,
    )
    evaluation = run.step(
        "evaluate",
        "Evaluate on the holdout",
        lambda: evaluate_model(
            estimator=model.estimator,
            holdout=holdout,
            features=model.features,
            label=training_set.label,
            split=model.split,
            definition=definition,
            classes=label.classes,
        ),
    )
    run.summary["metrics"] = evaluation.metrics
    run.step("plots", "Draw plots", lambda: write_plots(evaluation, out_dir=folder / "plots"))

    def gate() -> GateResult:
        scoring = HoldoutScoring(
            holdout=holdout,
            label=training_set.label,
            threshold=definition.threshold,
            bins=definition.evaluate.calibration_bins,
            directory=folder / "serving_bundle",
            task=task,
            metrics=tuple(evaluation.metrics),
        )
        baseline, warnings = serving_baseline(
            serving, registry=registry, scoring=scoring if rescore else None
        )
        run.warn(*warnings)
        return check_gate(metrics=evaluation.metrics, gate=definition.gate, baseline=baseline)

    against = (
        f" against {serving.environment} {serving.version.ref}"
        if isinstance(serving, ServingModel)
        else ""
    )
    verdict = run.step("gate", f"Gate{against}", gate)
    lineage = {
        "model_name": definition.name,
        "task": str(task),
        "feature_service": training_set.info.name,
        "features": training_set.features,
        "data_hash": training_set.data_hash,
        "artifact_digest": digest,
        "params_digest": definition.digest(),
    }
    write_evaluation(
        evaluation, out_dir=folder, extra={"lineage": lineage, "gate": verdict.to_dict()}
    )
    write_json_atomic(folder / "gate.json", verdict.to_dict())
    run.summary["gate"] = verdict.summary()
    enforce_gate(verdict, model_name=definition.name, warnings=run.warnings)
    version: ModelVersion | None = None
    if register:
        record = new_version(
            definition=definition,
            artifact_digest=digest,
            metrics=evaluation.metrics,
            data_hash=training_set.data_hash,
            features=training_set.features,
            run_id=run.run_id,
            git_commit=git_commit or git_sha(),
            description=f"local build {run.run_id}",
        )
        run.summary["git_sha"] = record.git_sha
        version = run.step(
            "register",
            f"Register {definition.name}",
            lambda: register_model(registry=registry, new=record, bundle_dir=folder / "bundle"),
        )
        run.summary["version"] = {"ref": version.ref, "artifact_uri": version.artifact_uri}
    status: Status = "registered" if version is not None else "passed"
    seconds = run.finish(status=status)
    return BuildResult(
        model_name=definition.name,
        task=str(task),
        run_id=run.run_id,
        run_dir=folder,
        status=status,
        metrics=dict(evaluation.metrics),
        artifact_digest=digest,
        data_hash=training_set.data_hash,
        gate=verdict,
        version=version,
        timings=dict(run.timings),
        seconds=seconds,
        warnings=list(run.warnings),
    )
