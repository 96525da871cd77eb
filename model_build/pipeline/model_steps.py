"""The model steps of a build, after the data steps: label check to register, plus tracking.

label -> train -> save bundle -> evaluate -> plots -> monitoring baseline -> explain -> bias ->
gate -> track -> register (the baseline is logged with the run and registered with the
version). The run is tracked (:mod:`model_build.tracking`) once the gate has judged it, so a
blocked candidate is tracked too (status ``blocked``); a registered version records the run's
link, and the run gets the version's reference as a tag afterwards (a failure there is a
warning, the version stands).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from foundation.files import write_json_atomic
from model_build.pipeline.plots import write_plots
from model_build.pipeline.result import BuildResult
from model_build.pipeline.serving import HoldoutScoring, ServingModel, serving_baseline
from model_build.pipeline.steps.baseline import baseline_step
from model_build.pipeline.steps.evaluate import evaluate_model, write_evaluation
from model_build.pipeline.steps.gate import check_gate, enforce_gate
from model_build.pipeline.steps.labels import check_label
from model_build.pipeline.steps.register import git_sha, new_version, register_model
from model_build.pipeline.steps.train import make_bundle, split_by_time, train_model
from model_build.tracking.record import BuildRecord, flatten, slipway_version
from model_bundle.bundle import save_bundle
from model_bundle.task import Task

if TYPE_CHECKING:
    from model_build.definition.schema import ModelDefinition
    from model_build.pipeline.run_record import RunRecord, Status
    from model_build.pipeline.steps.bias import BiasReport
    from model_build.pipeline.steps.evaluate import Evaluation
    from model_build.pipeline.steps.explain import ExplanationReport
    from model_build.pipeline.steps.gate import GateResult, NoServingModel
    from model_build.pipeline.steps.labels import LabelInfo
    from model_build.pipeline.steps.training_set import TrainingSet
    from model_build.registry.protocol import BiasRecord, ModelRegistry, ModelVersion
    from model_build.tracking.record import Tracker


def model_steps(
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
    tracker: Tracker,
    checked: LabelInfo | None = None,
) -> BuildResult:
    """Run the model steps on a prepared training set (see the module docs).

    Raises:
        LabelError: The label does not fit the task.
        GateFailedError: The candidate was blocked (after it was tracked).
        PipelineError: A step failed.
        TrackingError: The tracking store failed.
        RegistryError: Registration failed.
    """
    folder = run.folder
    task = definition.task
    commit = git_commit or git_sha()
    run.summary["git_sha"] = commit
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
    monitoring = baseline_step(
        run, bundle=bundle, training_set=training_set, seed=definition.train.seed
    )
    explanations = _explain(run, definition=definition, bundle=bundle, holdout=holdout)
    bias = _bias(
        run,
        definition=definition,
        training_set=training_set,
        holdout=holdout,
        evaluation=evaluation,
        classes=label.classes,
    )

    def gate() -> GateResult:
        from model_build.pipeline.steps.bias import bias_checks

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
        extra = bias_checks(bias, bias=definition.bias) if bias and definition.bias else []
        return check_gate(
            metrics=evaluation.metrics, gate=definition.gate, baseline=baseline, extra=extra
        )

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
    extra: dict[str, Any] = {"lineage": lineage, "gate": verdict.to_dict()}
    if explanations is not None:
        extra["explanations"] = explanations.to_dict()
    if bias is not None:
        extra["bias"] = bias.to_dict()
    write_evaluation(evaluation, out_dir=folder, extra=extra)
    write_json_atomic(folder / "gate.json", verdict.to_dict())
    run.summary["gate"] = verdict.summary()
    status: Status = "passed" if verdict.passed else "blocked"
    record = _record(
        run,
        definition=definition,
        training_set=training_set,
        evaluation=evaluation,
        bias=bias,
        digest=digest,
        commit=commit,
        status=status,
    )
    link = run.step("track", f"Track the run ({tracker.uri})", lambda: tracker.log_build(record))
    if link is not None:
        run.summary["tracking"] = link.model_dump()
    enforce_gate(verdict, model_name=definition.name, warnings=run.warnings)
    version: ModelVersion | None = None
    if register:
        new = new_version(
            definition=definition,
            artifact_digest=digest,
            metrics=evaluation.metrics,
            data_hash=training_set.data_hash,
            features=training_set.features,
            run_id=run.run_id,
            git_commit=commit,
            description=f"local build {run.run_id}",
        ).model_copy(update={"tracking": link, "bias": _bias_record(bias, definition, verdict)})
        version = run.step(
            "register",
            f"Register {definition.name}",
            lambda: register_model(
                registry=registry, new=new, bundle_dir=folder / "bundle", baseline_dir=monitoring
            ),
        )
        run.summary["version"] = {"ref": version.ref, "artifact_uri": version.artifact_uri}
        if link is not None:
            _annotate(run, tracker=tracker, link=link, version=version)
    status = "registered" if version is not None else "passed"
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
        tracking=link,
        explanations=explanations,
        bias=bias,
        monitoring_baseline=monitoring,
    )


def _explain(
    run: RunRecord, *, definition: ModelDefinition, bundle: Any, holdout: Any
) -> ExplanationReport | None:
    """The SHAP step; an estimator the explainer cannot handle is a warning, not a failure."""
    if not definition.explain.enabled:
        return None
    from model_build.pipeline.steps.explain import explain_candidate

    def explain() -> ExplanationReport | None:
        try:
            return explain_candidate(
                bundle=bundle, holdout=holdout, definition=definition, run_folder=run.folder
            )
        except ValueError as exc:
            run.warn(f"no SHAP explanations: {exc}")
            return None

    report = run.step("explain", "Explain (SHAP)", explain)
    if report is not None:
        run.summary["explanations"] = {"method": report.method, "plots": report.plots}
        if report.note:
            run.warn(f"SHAP: model-agnostic permutation method ({report.note})")
    return report


def _bias(
    run: RunRecord,
    *,
    definition: ModelDefinition,
    training_set: TrainingSet,
    holdout: Any,
    evaluation: Evaluation,
    classes: list[Any] | None,
) -> BiasReport | None:
    """The bias step (when ``bias`` is declared): Clarify's metrics, written to ``bias.json``."""
    declared = definition.bias
    if declared is None:
        return None
    from model_build.errors import PipelineError
    from model_build.pipeline.steps.bias import measure_bias

    if declared.attribute not in training_set.frame.columns:
        raise PipelineError(
            f"bias: attribute {declared.attribute!r} is neither a model input nor a column of "
            f"the entity source {definition.data.entity_source!r}"
        )
    predicted = predicted_labels(evaluation, classes=classes)
    report = run.step(
        "bias",
        f"Bias metrics ({declared.attribute})",
        lambda: measure_bias(
            bias=declared,
            task=definition.task,
            classes=classes,
            training=training_set.frame,
            holdout=holdout,
            label=training_set.label,
            predicted=predicted,
        ),
    )
    write_json_atomic(run.folder / "bias.json", report.to_dict())
    run.warn(*(f"bias: {note}" for note in report.notes))
    return report


def predicted_labels(evaluation: Evaluation, *, classes: list[Any] | None) -> np.ndarray[Any, Any]:
    """The candidate's predicted label per holdout row (values for regression)."""
    curves = evaluation.curves
    if evaluation.task is Task.REGRESSION:
        return np.asarray(curves["predicted"], dtype=np.float64)
    labels = np.array(classes or [0, 1], dtype=object)
    if evaluation.task is Task.BINARY:
        threshold = 0.5 if evaluation.threshold is None else evaluation.threshold
        chosen = (np.asarray(curves["p"]) >= threshold).astype(np.int64)
    else:
        chosen = np.argmax(np.asarray(curves["proba"]), axis=1)
    picked: np.ndarray[Any, Any] = labels[chosen]
    return picked


def _bias_record(
    bias: BiasReport | None, definition: ModelDefinition, verdict: GateResult
) -> BiasRecord | None:
    from model_build.registry.protocol import BiasRecord

    if bias is None or definition.bias is None:
        return None
    limits = {k: {"min": v.min, "max": v.max} for k, v in definition.bias.thresholds.items()}
    checks = [c for c in verdict.checks if c.kind == "bias"]
    return BiasRecord(
        attribute=bias.attribute,
        facet=list(bias.facet),
        metrics=dict(bias.metrics),
        limits=limits,
        passed=all(c.passed for c in checks) if checks else None,
    )


def _record(
    run: RunRecord,
    *,
    definition: ModelDefinition,
    training_set: TrainingSet,
    evaluation: Evaluation,
    bias: BiasReport | None,
    digest: str,
    commit: str,
    status: str,
) -> BuildRecord:
    metrics: dict[str, float] = dict(evaluation.metrics)
    if bias is not None:
        metrics.update({f"bias.{k}": v for k, v in bias.metrics.items() if v is not None})
    metrics.update({f"seconds.{k}": v for k, v in run.timings.items()})
    metrics["train_rows"] = float(evaluation.split.train_rows)
    metrics["holdout_rows"] = float(evaluation.split.holdout_rows)
    tags = {
        "mlflow.source.git.commit": commit,
        "mlflow.source.name": "slipway build run",
        "mlflow.source.type": "LOCAL",
        "mlflow.note.content": definition.model.description or definition.name,
        "slipway.model_name": definition.name,
        "slipway.task": str(definition.task),
        "slipway.run_id": run.run_id,
        "slipway.data_hash": training_set.data_hash,
        "slipway.feature_service": training_set.info.name,
        "slipway.artifact_digest": digest,
        "slipway.params_digest": definition.digest(),
        "slipway.slipway_version": slipway_version(),
        "slipway.features": json.dumps(training_set.features),
    }
    return BuildRecord(
        model_name=definition.name,
        run_name=run.run_id,
        status=status,
        params=flatten(definition.model_dump(mode="json")),
        metrics=metrics,
        tags=tags,
        run_folder=run.folder,
        bundle_dir=run.folder / "bundle",
    )


def _annotate(run: RunRecord, *, tracker: Tracker, link: Any, version: ModelVersion) -> None:
    from model_build.errors import TrackingError

    try:
        tracker.annotate(
            link, tags={"slipway.registered": version.ref, "slipway.status": "registered"}
        )
    except TrackingError as exc:
        run.warn(f"{version.ref} is registered but its run was not tagged with it: {exc}")
