"""Build parameters (``model_build/params.yaml``), loaded strictly.

Every section is a pydantic model with ``extra="forbid"``: a misspelled key, a wrong type or an
out-of-range value is a :class:`ParamsError` whose message names the file and the field, e.g.
``model_build/params.yaml: field 'train.hyperparameters.learning_rate': Input should be greater
than 0``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from model_build.errors import BuildError

DEFAULT_PARAMS_PATH: Final = Path(__file__).resolve().parents[1] / "params.yaml"
"""The checked-in parameters, ``model_build/params.yaml``."""

Metric = Literal["roc_auc", "pr_auc", "log_loss", "brier", "ece", "precision", "recall", "f1"]
"""Metrics the gate can compare against the serving version (which way is better:
:data:`model_build.registry.compare.LOWER_IS_BETTER`)."""


class ParamsError(BuildError):
    """The build parameters file is missing, not YAML, or has an invalid field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelParams(_Strict):
    """Which model is built.

    Attributes:
        name: Registry model name.
        feature_service: Feast feature service the model reads.
    """

    name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9_])*$", max_length=63)
    feature_service: str = Field(min_length=1)


class DataParams(_Strict):
    """Where labels and entities come from, and how the holdout is cut.

    Attributes:
        entity_source: Feast data source holding entities, timestamps, request values and labels.
        label: Binary (0/1) target column.
        id_column: Unique row id, used to order rows with equal timestamps.
        holdout_fraction: Share of the latest rows (by event time) kept for evaluation.
    """

    entity_source: str = Field(min_length=1)
    label: str = Field(min_length=1)
    id_column: str = Field(min_length=1)
    holdout_fraction: float = Field(gt=0.0, le=0.5)


class HistGBParams(_Strict):
    """Hyperparameters of ``HistGradientBoostingClassifier``.

    Attributes:
        learning_rate: Shrinkage.
        max_iter: Boosting iterations (early stopping is off).
        max_leaf_nodes: Leaves per tree.
        max_depth: Depth limit per tree, or None.
        min_samples_leaf: Minimum rows per leaf.
        l2_regularization: L2 penalty on leaf values.
    """

    learning_rate: float = Field(gt=0.0, le=1.0)
    max_iter: int = Field(ge=1, le=5000)
    max_leaf_nodes: int = Field(ge=2)
    max_depth: int | None = Field(default=None, ge=1)
    min_samples_leaf: int = Field(ge=1)
    l2_regularization: float = Field(ge=0.0)


class TrainParams(_Strict):
    """How the model is fitted.

    Attributes:
        seed: ``random_state`` of every random draw (estimator, permutation importance).
        n_threads: OpenMP threads while fitting and predicting; 1 gives the same bits everywhere.
        scale_numeric: Standardize numeric features (else pass them through).
        estimator: Estimator family (only ``hist_gradient_boosting`` today).
        hyperparameters: Estimator hyperparameters.
    """

    seed: int = Field(ge=0, le=2**32 - 1)
    n_threads: int = Field(default=1, ge=1)
    scale_numeric: bool = True
    estimator: Literal["hist_gradient_boosting"] = "hist_gradient_boosting"
    hyperparameters: HistGBParams


class EvaluateParams(_Strict):
    """How the holdout is scored.

    Attributes:
        threshold: Probability at or above which the predicted label is 1.
        calibration_bins: Equal-width bins of the reliability curve and the ECE.
        permutation_repeats: Shuffles per feature for permutation importance.
    """

    threshold: float = Field(gt=0.0, lt=1.0)
    calibration_bins: int = Field(ge=2, le=100)
    permutation_repeats: int = Field(ge=1, le=50)


class GateParams(_Strict):
    """What a candidate must reach to be registered.

    Attributes:
        min_roc_auc: Lowest acceptable holdout ROC AUC.
        max_log_loss: Highest acceptable log loss, or None for no limit.
        max_brier: Highest acceptable Brier score, or None.
        max_ece: Highest acceptable expected calibration error, or None.
        serving_tolerance: Per metric, how much worse than the version serving in the
            environment compared with the candidate may be (in the metric's own units).
    """

    min_roc_auc: float = Field(ge=0.0, le=1.0)
    max_log_loss: float | None = Field(default=None, gt=0.0)
    max_brier: float | None = Field(default=None, gt=0.0, le=1.0)
    max_ece: float | None = Field(default=None, gt=0.0, le=1.0)
    serving_tolerance: dict[Metric, float] = Field(default_factory=dict)

    @field_validator("serving_tolerance")
    @classmethod
    def _non_negative(cls, value: dict[Metric, float]) -> dict[Metric, float]:
        bad = sorted(name for name, tol in value.items() if not tol >= 0.0)
        if bad:
            raise ValueError(f"tolerances must be >= 0 (got a negative one for {', '.join(bad)})")
        return value


class SageMakerParams(_Strict):
    """Shape of the SageMaker Pipeline compiled from the same steps.

    Attributes:
        pipeline_name: SageMaker pipeline name.
        prefix: S3 key prefix for code, the feature repo and step outputs.
        processing_instance_type: Instance type of the processing steps.
        training_instance_type: Instance type of the training step.
        inference_instance_types: Instance types the registered package supports.
        volume_size_gb: EBS volume of each job.
        max_runtime_seconds: Training job time limit.
    """

    pipeline_name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
    prefix: str = Field(pattern=r"^[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*$")
    processing_instance_type: str = Field(pattern=r"^ml\.")
    training_instance_type: str = Field(pattern=r"^ml\.")
    inference_instance_types: list[str] = Field(min_length=1)
    volume_size_gb: int = Field(ge=1, le=16384)
    max_runtime_seconds: int = Field(ge=60)


class BuildParams(_Strict):
    """Everything ``model_build/params.yaml`` holds.

    Attributes:
        model: Model name and feature service.
        data: Entity/label source and holdout.
        train: Estimator, hyperparameters and seed.
        evaluate: Threshold and report settings.
        gate: Absolute thresholds and the tolerance against the serving version.
        sagemaker: SageMaker Pipeline settings.
    """

    model: ModelParams
    data: DataParams
    train: TrainParams
    evaluate: EvaluateParams
    gate: GateParams
    sagemaker: SageMakerParams

    def lineage(self) -> dict[str, Any]:
        """The parameters that shape the model (no SageMaker settings), as plain JSON values."""
        return self.model_dump(mode="json", exclude={"sagemaker"})

    def digest(self) -> str:
        """``sha256:<hex>`` of :meth:`lineage` in canonical JSON."""
        text = json.dumps(self.lineage(), sort_keys=True, separators=(",", ":"))
        return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"

    def to_yaml(self) -> str:
        """The parameters as YAML that :func:`load_params` reads back to an equal object."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def load_params(*, path: Path = DEFAULT_PARAMS_PATH) -> BuildParams:
    """Read and validate a build parameters file (``model_build/params.yaml`` by default).

    Raises:
        ParamsError: One line naming the file and the field (or line) at fault.
    """
    if not path.is_file():
        raise ParamsError(f"{path}: file not found (build parameters)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParamsError(f"{path}: {where}invalid YAML: {problem}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    return parse_params(raw, source=str(path))


def parse_params(raw: dict[str, Any], *, source: str) -> BuildParams:
    """Validate parameters already read from YAML or JSON; ``source`` names them in messages.

    Raises:
        ParamsError: One line naming ``source`` and the field at fault.
    """
    try:
        return BuildParams.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        field = ".".join(str(p) for p in first["loc"] if p != "[key]") or "(top level)"
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ParamsError(f"{source}: field '{field}': {message}{more}") from exc
