"""What each SageMaker job runs: the same step functions as the local runner, on container paths.

The thin scripts in ``model_build/sagemaker/scripts/`` (uploaded to ``s3://<bucket>/<prefix>/
code/``) only call :func:`main` with a job name; the image has Slipway installed. Every job
takes its folders as arguments, so tests run the three jobs back to back on temp folders.

* ``prepare`` (ProcessingStep): apply the Feast repo copy, validate the sources, build the
  point-in-time training set, check the label against the task, write it as Parquet plus JSON.
* ``train`` (TrainingStep): fit on the training part, write the bundle to ``/opt/ml/model``
  (SageMaker packs it as ``model.tar.gz``).
* ``evaluate`` (ProcessingStep): unpack the bundle, evaluate on the holdout, run the gate
  against the serving metrics passed as a pipeline parameter (``{}``: no serving version,
  absolute checks only), write ``evaluation.json`` (read
  by the ConditionStep through a PropertyFile), plots, ``lineage.json`` (the lineage of the
  version the RegisterModel step creates, in the SageMaker registry's lineage format) and the
  monitoring baseline in ``baseline/`` (the package's ``DriftCheckBaselines``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.files import write_json_atomic
from model_build.definition.loader import load_definition
from model_build.errors import PipelineError
from model_build.pipeline.plots import write_plots
from model_build.pipeline.steps.baseline import BASELINE_DIR, build_monitoring_baseline
from model_build.pipeline.steps.evaluate import evaluate_model, write_evaluation
from model_build.pipeline.steps.gate import check_gate
from model_build.pipeline.steps.labels import LabelInfo, check_label
from model_build.pipeline.steps.register import new_version
from model_build.pipeline.steps.train import make_bundle, split_by_time, train_model
from model_build.pipeline.steps.training_set import (
    build_training_set,
    describe_feature_service,
    load_training_set,
    save_training_set,
)
from model_build.pipeline.steps.validate import validate_data
from model_build.registry.sagemaker_metadata import version_fields
from model_build.sagemaker.launch import parse_serving
from model_build.sagemaker.layout import NEW_VERSION_FILE, PATHS
from model_bundle.bundle import bundle_digest, load_bundle, save_bundle, unpack_bundle

if TYPE_CHECKING:
    from model_build.definition.schema import ModelDefinition
    from model_build.pipeline.steps.training_set import TrainingSet

_LOCAL_STATE: Final = ("registry.db", "online_store.db")


def prepare_job(
    *, repo_dir: Path, definition_path: Path, out_dir: Path, now: datetime | None = None
) -> Path:
    """Validate the sources and write the training set into ``out_dir``; return ``out_dir``.

    ``repo_dir`` is the Feast repo (definitions, ``expectations/``, ``data/``); it is copied to
    a scratch folder and applied there (the container has no registry). ``out_dir`` receives
    ``training_set.parquet``, ``training_set.json`` and ``validation.json``. ``now`` is the
    clock of the freshness checks (the current time when None).

    Raises:
        ValidationFailedError: The data gate failed.
        LabelError: The label does not fit the task.
        PipelineError: Feast could not build the training set.
    """
    from feature_store.registry_sync import apply
    from feature_store.repo import FeatureRepo

    definition = _definition(definition_path)
    with tempfile.TemporaryDirectory(prefix="slipway-repo-") as scratch:
        work = Path(scratch) / "feature_repo"
        shutil.copytree(repo_dir, work, ignore=shutil.ignore_patterns(*_LOCAL_STATE))
        repo = FeatureRepo(path=work, env="local")
        apply(repo=repo)
        info = describe_feature_service(store=repo.open_store(), name=definition.feature_service)
        sources = [definition.data.entity_source, *info.sources]
        validation = validate_data(repo_path=work, sources=sources, now=now)
        training_set = build_training_set(
            repo=repo, data=definition.data, feature_service=definition.feature_service
        )
    _label(training_set, definition, source=str(definition_path))
    save_training_set(training_set, directory=out_dir)
    write_json_atomic(out_dir / "validation.json", validation.summary())
    return out_dir


def train_job(*, training_set_dir: Path, definition_path: Path, model_dir: Path) -> str:
    """Fit the model on the :func:`prepare_job` output and write its bundle; return its digest.

    ``definition_path`` is the ``model.yaml`` copy in the code channel (an entry point is
    imported from its folder); ``model_dir`` is ``/opt/ml/model`` in SageMaker.
    """
    definition = _definition(definition_path)
    training_set = load_training_set(directory=training_set_dir)
    label = _label(training_set, definition, source=str(definition_path))
    model = train_model(training_set=training_set, definition=definition, label=label)
    bundle = make_bundle(model=model, training_set=training_set, definition=definition)
    return save_bundle(bundle, directory=model_dir)


def evaluate_job(
    *,
    model_path: Path,
    training_set_dir: Path,
    definition_path: Path,
    out_dir: Path,
    serving: str = "{}",
    run_id: str = "",
    git_commit: str = "unknown",
) -> dict[str, Any]:
    """Evaluate the trained bundle, run the gate, write the reports; return ``evaluation.json``.

    ``model_path`` is a bundle folder, a folder holding ``model.tar.gz``, or the archive;
    ``out_dir`` receives ``evaluation.json``, ``lineage.json``, ``plots/`` and the monitoring
    baseline ``baseline/`` (the training set scored by the bundle). ``serving`` is
    the ``ServingMetrics`` parameter (:func:`model_build.sagemaker.launch.serving_parameter`),
    ``{}`` for none; ``run_id`` (the pipeline execution id) and ``git_commit`` are recorded in
    the lineage.

    Raises:
        PipelineError: The model or the serving JSON is unusable.
        BaselineError: The training set cannot be baselined (the package would name a
            baseline it does not have).
    """
    definition = _definition(definition_path)
    training_set = load_training_set(directory=training_set_dir)
    with tempfile.TemporaryDirectory(prefix="slipway-model-") as scratch:
        bundle_dir = _bundle_dir(model_path, Path(scratch))
        digest = bundle_digest(directory=bundle_dir)
        bundle = load_bundle(directory=bundle_dir)
    _, holdout, split = split_by_time(
        training_set,
        holdout_fraction=definition.data.holdout_fraction,
        task=definition.task,
        classes=bundle.classes,
    )
    evaluation = evaluate_model(
        estimator=bundle.estimator,
        holdout=holdout,
        features=bundle.features,
        label=training_set.label,
        split=split,
        definition=definition,
        classes=bundle.classes,
    )
    verdict = check_gate(
        metrics=evaluation.metrics, gate=definition.gate, baseline=parse_serving(serving)
    )
    record = new_version(
        definition=definition,
        artifact_digest=digest,
        metrics=evaluation.metrics,
        data_hash=training_set.data_hash,
        features=bundle.features,
        run_id=run_id,
        git_commit=git_commit,
        description=f"SageMaker pipeline execution {run_id}".strip(),
    )
    lineage = {
        "model_name": definition.name,
        "task": str(definition.task),
        "feature_service": training_set.info.name,
        "features": list(bundle.features),
        "data_hash": training_set.data_hash,
        "artifact_digest": digest,
        "params_digest": definition.digest(),
    }
    path = write_evaluation(
        evaluation, out_dir=out_dir, extra={"lineage": lineage, "gate": verdict.to_dict()}
    )
    write_json_atomic(out_dir / NEW_VERSION_FILE, {"format": 1, **version_fields(record)})
    write_plots(evaluation, out_dir=out_dir / "plots")
    build_monitoring_baseline(
        bundle=bundle,
        training_set=training_set,
        directory=out_dir / BASELINE_DIR,
        seed=definition.train.seed,
    )
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def main(job: str, argv: list[str] | None = None) -> None:
    """Command-line entry of the container scripts: ``job`` is prepare, train or evaluate.

    Raises:
        PipelineError: Unknown job.
    """
    parser = argparse.ArgumentParser(prog=f"slipway-{job}")
    if job == "prepare":
        parser.add_argument("--repo", default=PATHS["repo"])
        parser.add_argument("--definition", default=PATHS["definition_processing"])
        parser.add_argument("--out", default=PATHS["training_set_out"])
        parser.add_argument("--now", default="now")
        args = parser.parse_args(argv)
        now = None if args.now in ("", "now") else datetime.fromisoformat(args.now)
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        prepare_job(
            repo_dir=Path(args.repo),
            definition_path=Path(args.definition),
            out_dir=Path(args.out),
            now=now,
        )
    elif job == "train":
        parser.add_argument("--training-set", default=PATHS["training_set_train"])
        parser.add_argument("--definition", default=PATHS["definition_training"])
        parser.add_argument("--model-dir", default=PATHS["model_dir"])
        args = parser.parse_args(argv)
        digest = train_job(
            training_set_dir=Path(args.training_set),
            definition_path=Path(args.definition),
            model_dir=Path(args.model_dir),
        )
        print(f"bundle {digest}")
    elif job == "evaluate":
        parser.add_argument("--model", default=PATHS["model_in"])
        parser.add_argument("--training-set", default=PATHS["training_set_eval"])
        parser.add_argument("--definition", default=PATHS["definition_processing"])
        parser.add_argument("--out", default=PATHS["evaluation_out"])
        parser.add_argument("--serving", default="{}")
        parser.add_argument("--run-id", default="")
        parser.add_argument("--git-sha", default="unknown")
        args = parser.parse_args(argv)
        document = evaluate_job(
            model_path=Path(args.model),
            training_set_dir=Path(args.training_set),
            definition_path=Path(args.definition),
            out_dir=Path(args.out),
            serving=args.serving,
            run_id=args.run_id,
            git_commit=args.git_sha,
        )
        print(f"gate: {document['gate']['summary']}")
    else:
        raise PipelineError(f"unknown job {job!r} (prepare, train, evaluate)")


def _definition(path: Path) -> ModelDefinition:
    return load_definition(path=path, named_after_folder=False)


def _label(training_set: TrainingSet, definition: ModelDefinition, *, source: str) -> LabelInfo:
    return check_label(
        training_set.frame[training_set.label],
        task=definition.task,
        label=training_set.label,
        source=source,
        max_classes=definition.data.max_classes,
    )


def _bundle_dir(model_path: Path, scratch: Path) -> Path:
    archive = model_path if model_path.is_file() else model_path / "model.tar.gz"
    if archive.is_file():
        return unpack_bundle(archive=archive, directory=scratch / "bundle")
    if (model_path / "bundle.json").is_file():
        return model_path
    raise PipelineError(f"evaluate: {model_path}: no model.tar.gz or bundle found")
