"""Compile the build pipeline to a SageMaker Pipeline definition, offline (sagemaker>=3).

Steps (classic, not ``@step``: those upload pickles while rendering)::

    PrepareData (Processing) -> Train (Training) -> Evaluate (Processing, PropertyFile)
        -> CheckGate (Condition on evaluation.json) -> RegisterModel | GateFailed (Fail)

The jobs run the thin scripts under ``s3://<bucket>/<prefix>/code/`` (see
:mod:`model_build.sagemaker.jobs`; container paths in :mod:`model_build.sagemaker.layout`) in a
Slipway image. S3 layout::

    <prefix>/code/{prepare,train,evaluate}.py, model.yaml     uploaded by upload_code
    <prefix>/feature_repo/...                                  uploaded by upload_feature_repo
    <prefix>/runs/<execution id>/{training_set,model,evaluation}/   written by the jobs
    <prefix>/runs/<execution id>/evaluation/baseline/          the monitoring baseline

RegisterModel records the baseline's ``statistics.json`` and ``constraints.json`` as the
package's ``DriftCheckBaselines.ModelDataQuality`` (what the SageMaker registry's
``fetch_baseline`` reads).

Rendering needs no credentials and no network: role validation is off
(``SAGEMAKER_VALIDATE_ROLE=false``), telemetry is opted out, and the session's
``default_bucket()`` returns the bucket instead of asking S3. The output depends only on the
arguments, so the same inputs give byte-identical JSON (:func:`definition_json`).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.metrics import lower_is_better
from model_build.registry.sagemaker_metadata import FORMAT, FORMAT_KEY, PREFIX, group_name
from model_build.sagemaker.layout import NEW_VERSION_FILE, PATHS

if TYPE_CHECKING:
    from model_build.definition.schema import ModelDefinition

SCRIPTS_DIR: Final = Path(__file__).resolve().parent / "scripts"
SCRIPTS: Final = ("prepare.py", "train.py", "evaluate.py")
DEFINITION_FILE: Final = "model.yaml"
STEP_NAMES: Final = ("PrepareData", "Train", "Evaluate", "CheckGate", "RegisterModel", "GateFailed")
EVALUATION_PROPERTY_FILE: Final = "EvaluationReport"
TELEMETRY_OPT_OUT: Final[dict[str, Any]] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
_CONTENT_TYPES: Final = ["application/json"]
PLACEHOLDERS: Final[dict[str, str]] = {
    "bucket": "slipway-artifacts",
    "role_arn": "arn:aws:iam::123456789012:role/slipway-sagemaker",
    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway:latest",
}
"""Example bucket, role and image for a definition compiled only to be reviewed or diffed."""


def compile_pipeline(
    *, model: ModelDefinition, bucket: str, role_arn: str, image_uri: str, region: str
) -> dict[str, Any]:
    """Render the SageMaker Pipeline definition of the build, a dict (see :func:`definition_json`).

    ``model`` is the model definition: its gate thresholds become the condition step (a
    ``>=`` or ``<=`` per metric, by the metric registry's direction); names and instance types
    come from its ``sagemaker`` section. ``bucket`` holds code, the feature repo and step outputs;
    ``role_arn`` is the jobs' execution role (a full ARN, not validated); ``image_uri`` is the
    Slipway image with the package installed (jobs and inference).
    """
    with _offline(region), _quiet_logs():
        import sagemaker.core.config.config_manager  # noqa: F401 - imports before patching

        with _cached_config_schema():
            return _compile(
                model=model, bucket=bucket, role_arn=role_arn, image_uri=image_uri, region=region
            )


def definition_json(definition: dict[str, Any]) -> str:
    """Canonical JSON text of a definition (sorted keys, two-space indent, final newline)."""
    return json.dumps(definition, indent=2, sort_keys=True) + "\n"


def step_names(definition: dict[str, Any]) -> list[str]:
    """The names of a definition's steps in order, a condition's branches right after it."""
    names: list[str] = []
    steps = definition.get("Steps")
    stack = list(steps) if isinstance(steps, list) else []
    while stack:
        step = stack.pop(0)
        names.append(str(step["Name"]))
        arguments = step.get("Arguments") or {}
        stack[:0] = [*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])]
    return names


def code_files(model: ModelDefinition) -> dict[str, bytes]:
    """The files uploaded to ``s3://<bucket>/<prefix>/code/``, by relative path.

    The job scripts, ``model.yaml`` (the definition the pipeline was compiled from, which the
    jobs read) and the Python files of the model folder (an entry point's code; the Train job
    imports it from the ``code`` channel).
    """
    files = {name: (SCRIPTS_DIR / name).read_bytes() for name in SCRIPTS}
    folder = model.folder
    if folder is not None and model.train.entrypoint:
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[path.relative_to(folder).as_posix()] = path.read_bytes()
    files[DEFINITION_FILE] = model.to_yaml().encode()
    return files


def s3_prefix(*, bucket: str, model: ModelDefinition) -> str:
    """``s3://<bucket>/<prefix>`` of the pipeline's files."""
    return f"s3://{bucket}/{model.sagemaker.prefix}"


def _compile(
    *, model: ModelDefinition, bucket: str, role_arn: str, image_uri: str, region: str
) -> dict[str, Any]:
    import boto3
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.workflow.conditions import (
        ConditionEquals,
        ConditionGreaterThanOrEqualTo,
        ConditionLessThanOrEqualTo,
    )
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig, StoppingCondition

    class OfflineSession(PipelineSession):  # type: ignore[misc]
        """A pipeline session whose default bucket is given, never looked up in S3."""

        def default_bucket(self) -> str:
            return bucket

    sm = model.sagemaker
    root = s3_prefix(bucket=bucket, model=model)
    session = OfflineSession(
        boto_session=boto3.Session(region_name=region),
        default_bucket=bucket,
        sagemaker_config=TELEMETRY_OPT_OUT,
    )
    git_sha = ParameterString(name="GitSha", default_value="unknown")
    serving = ParameterString(name="ServingMetrics", default_value="{}")
    gate_time = ParameterString(name="DataGateTime", default_value="now")
    execution = ExecutionVariables.PIPELINE_EXECUTION_ID

    def run_uri(name: str) -> Any:
        return Join(on="/", values=[f"{root}/runs", execution, name])

    def s3_in(name: str, uri: Any, local: str) -> Any:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri, local_path=local, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    def s3_out(name: str, local: str) -> Any:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=run_uri(name), local_path=local, s3_upload_mode="EndOfJob"
            ),
        )

    def processor(base: str) -> Any:
        return ScriptProcessor(
            image_uri=image_uri,
            command=["python3"],
            role=role_arn,
            instance_type=sm.processing_instance_type,
            instance_count=1,
            volume_size_in_gb=sm.volume_size_gb,
            base_job_name=base,
            env={"GX_ANALYTICS_ENABLED": "false", "SLIPWAY_FEATURE_ENV": "local"},
            sagemaker_session=session,
        )

    params_input = s3_in(
        "definition",
        f"{root}/code/{DEFINITION_FILE}",
        str(Path(PATHS["definition_processing"]).parent),
    )
    prepare = ProcessingStep(
        name="PrepareData",
        step_args=processor("slipway-prepare").run(
            code=f"{root}/code/prepare.py",
            inputs=[s3_in("feature_repo", f"{root}/feature_repo/", PATHS["repo"]), params_input],
            outputs=[s3_out("training_set", PATHS["training_set_out"])],
            arguments=["--now", gate_time],
        ),
    )
    training_set_uri = prepare.properties.ProcessingOutputConfig.Outputs[
        "training_set"
    ].S3Output.S3Uri
    trainer = ModelTrainer(
        training_image=image_uri,
        role=role_arn,
        base_job_name="slipway-train",
        sagemaker_session=session,
        compute=Compute(
            instance_type=sm.training_instance_type,
            instance_count=1,
            volume_size_in_gb=sm.volume_size_gb,
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=sm.max_runtime_seconds),
        output_data_config=OutputDataConfig(s3_output_path=run_uri("model")),
        input_data_config=[
            InputData(channel_name="training_set", data_source=training_set_uri),
            InputData(channel_name="code", data_source=f"{root}/code/"),
        ],
    )
    train = TrainingStep(name="Train", step_args=trainer.train())
    model_uri = train.properties.ModelArtifacts.S3ModelArtifacts
    report = PropertyFile(
        name=EVALUATION_PROPERTY_FILE, output_name="evaluation", path="evaluation.json"
    )
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor("slipway-evaluate").run(
            code=f"{root}/code/evaluate.py",
            inputs=[
                s3_in("model", model_uri, PATHS["model_in"]),
                s3_in("training_set", training_set_uri, PATHS["training_set_eval"]),
                params_input,
            ],
            outputs=[s3_out("evaluation", PATHS["evaluation_out"])],
            arguments=["--serving", serving, "--run-id", execution, "--git-sha", git_sha],
        ),
        property_files=[report],
    )
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri

    def reported(path: str) -> Any:
        return JsonGet(step_name=evaluate.name, property_file=report, json_path=path)

    conditions: list[Any] = []
    for metric, limit in model.gate.thresholds.items():
        compare = (
            ConditionLessThanOrEqualTo if lower_is_better(metric) else ConditionGreaterThanOrEqualTo
        )
        conditions.append(compare(left=reported(f"metrics.{metric}"), right=limit))
    conditions.append(ConditionEquals(left=reported("gate.serving_passed"), right=True))

    builder = ModelBuilder(
        s3_model_data_url=model_uri,
        image_uri=image_uri,
        role_arn=role_arn,
        sagemaker_session=session,
    )
    metadata = {
        FORMAT_KEY: FORMAT,
        f"{PREFIX}model_name": model.name,
        f"{PREFIX}task": str(model.task),
        f"{PREFIX}feature_service": model.feature_service,
        f"{PREFIX}git_sha": git_sha,
        f"{PREFIX}run_id": execution,
        f"{PREFIX}data_hash": reported("lineage.data_hash"),
        f"{PREFIX}artifact_digest": reported("lineage.artifact_digest"),
        f"{PREFIX}lineage_uri": Join(on="/", values=[evaluation_uri, NEW_VERSION_FILE]),
    }
    register = ModelStep(
        name="RegisterModel",
        step_args=builder.register(
            model_package_group_name=group_name(model.name),
            content_types=_CONTENT_TYPES,
            response_types=_CONTENT_TYPES,
            inference_instances=list(sm.inference_instance_types),
            approval_status="PendingManualApproval",
            description=f"Slipway build of {model.name} ({model.feature_service})",
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    content_type="application/json",
                    s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]),
                )
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=MetricsSource(
                    content_type="application/json",
                    s3_uri=Join(on="/", values=[evaluation_uri, "baseline", "statistics.json"]),
                ),
                model_data_constraints=MetricsSource(
                    content_type="application/json",
                    s3_uri=Join(on="/", values=[evaluation_uri, "baseline", "constraints.json"]),
                ),
            ),
            customer_metadata_properties=metadata,
        ),
    )
    failed = FailStep(
        name="GateFailed",
        error_message=Join(
            on=" ",
            values=[f"gate blocked the {model.name} candidate:", reported("gate.summary")],
        ),
    )
    check = ConditionStep(
        name="CheckGate", conditions=conditions, if_steps=[register], else_steps=[failed]
    )
    pipeline = Pipeline(
        name=sm.pipeline_name,
        parameters=[git_sha, serving, gate_time],
        steps=[prepare, train, evaluate, check],
        sagemaker_session=session,
    )
    definition: dict[str, Any] = json.loads(pipeline.definition())
    _set_train_entrypoint(definition)
    return definition


def _set_train_entrypoint(definition: dict[str, Any]) -> None:
    """Run ``train.py`` from the ``code`` channel.

    ModelTrainer sets an entrypoint only when it uploads its own driver scripts, which needs S3
    while rendering; the Train step's AlgorithmSpecification gets it here instead.
    """
    code_dir = Path(PATHS["definition_training"]).parent
    for step in definition["Steps"]:
        if step["Name"] == "Train":
            spec = step["Arguments"]["AlgorithmSpecification"]
            spec["ContainerEntrypoint"] = ["python3", str(code_dir / "train.py")]
            spec["ContainerArguments"] = ["--definition", PATHS["definition_training"]]


@contextmanager
def _offline(region: str) -> Iterator[None]:
    """Environment and logging for an offline render; restored afterwards."""
    forced = {
        "SAGEMAKER_VALIDATE_ROLE": "false",  # no IAM SimulatePrincipalPolicy call
        "AWS_DEFAULT_REGION": region,  # sagemaker.serve creates clients at import
        "AWS_EC2_METADATA_DISABLED": "true",  # no credential lookup on 169.254.169.254
    }
    saved = {key: os.environ.get(key) for key in forced}
    os.environ.update(forced)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """Hide the SDK's log chatter while rendering, and undo its logging set-up afterwards.

    Importing sagemaker calls ``logging.basicConfig`` (a root handler at INFO); rendering logs
    job-name and config notices. Records up to WARNING are dropped inside the block; the root
    logger's handlers and level are restored when it ends.
    """
    root = logging.getLogger()
    handlers, level, disabled = list(root.handlers), root.level, logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(disabled)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


@contextmanager
def _cached_config_schema() -> Iterator[None]:
    """Validate SDK configs with one prepared validator.

    ``jsonschema.validate`` re-checks the SDK's large config schema against the meta-schema on
    every config lookup (about 0.4 s each, ~50 lookups per render once a config is given, as
    the telemetry opt-out is). The config itself is still validated, only that re-check is
    skipped; the original method is restored afterwards.
    """
    import jsonschema  # type: ignore[import-untyped]
    from sagemaker.core.config.config_manager import SageMakerConfig
    from sagemaker.core.config.config_schema import SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA

    validator = jsonschema.validators.validator_for(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)(
        SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA
    )
    original = SageMakerConfig.__dict__["validate_sagemaker_config"]

    def validate(sagemaker_config: dict[str, Any] | None = None) -> None:
        validator.validate(sagemaker_config)

    SageMakerConfig.validate_sagemaker_config = staticmethod(validate)
    try:
        yield
    finally:
        SageMakerConfig.validate_sagemaker_config = original
