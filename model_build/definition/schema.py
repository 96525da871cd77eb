"""The schema of ``model_build/models/<name>/model.yaml``: one model's whole build definition.

Every section is a pydantic model with ``extra="forbid"`` and frozen values. Rules that span
sections (a metric must belong to the model's task, the built-in estimator's hyperparameters,
``estimator`` or ``entrypoint``) are checked by :mod:`model_build.definition.loader`, which
reports every problem of a file at once.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from model_bundle.task import Task

BUILTIN_ESTIMATORS: Final = ("hist_gradient_boosting",)
"""Estimators named without an import path (scikit-learn's HistGradientBoosting, per task)."""
IMPORT_PATH: Final = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
ENTRYPOINT: Final = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
NAME: Final = r"^[a-zA-Z0-9](-*[a-zA-Z0-9_])*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Strict):
    """Which model is built.

    Attributes:
        name: Registry model name (SageMaker group: ``_`` becomes ``-``).
        task: ``binary``, ``multiclass`` or ``regression``; it drives the label check, the
            estimator, the metrics, the plots, the gate and the served answer.
        feature_service: Feast feature service the model reads.
        description: Free text, shown in listings.
    """

    name: str = Field(pattern=NAME, max_length=63)
    task: Task
    feature_service: str = Field(min_length=1)
    description: str = ""


class DataSection(_Strict):
    """Where labels and entities come from, and how the holdout is cut.

    Attributes:
        entity_source: Feast data source holding entities, timestamps, request values and labels.
        label: Target column of the entity source.
        id_column: Unique row id, used to order rows with equal timestamps.
        holdout_fraction: Share of the latest rows (by event time) kept for evaluation.
        max_classes: Most classes a multiclass label may have (more is a label error).
    """

    entity_source: str = Field(min_length=1)
    label: str = Field(min_length=1)
    id_column: str = Field(min_length=1)
    holdout_fraction: float = Field(gt=0.0, le=0.5)
    max_classes: int = Field(default=50, ge=3, le=1000)


class HistGBParams(_Strict):
    """Hyperparameters of the built-in ``hist_gradient_boosting`` (classifier or regressor).

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


class TrainSection(_Strict):
    """How the model is fitted: one of ``estimator`` or ``entrypoint``.

    Attributes:
        seed: ``random_state`` of every random draw (estimator, permutation importance).
        n_threads: OpenMP/BLAS threads while fitting and predicting (also the estimator's
            ``n_jobs`` when it has one and the hyperparameters leave it out); 1 gives the same
            bits on any machine.
        scale_numeric: Standardize numeric features (else pass them through).
        estimator: ``hist_gradient_boosting`` (built in), or the import path of any
            scikit-learn compatible estimator class (``sklearn.ensemble.RandomForestRegressor``,
            ``xgboost.XGBClassifier``), wrapped in the standard preprocessing.
        hyperparameters: Keyword arguments of the estimator (for an entry point: its
            ``params``).
        entrypoint: ``module:function`` of your own training code, importable from the model
            folder (see :mod:`model_build.pipeline.estimators`).
    """

    seed: int = Field(ge=0, le=2**32 - 1)
    n_threads: int = Field(default=1, ge=1)
    scale_numeric: bool = True
    estimator: str | None = Field(default=None, pattern=rf"{IMPORT_PATH}|^hist_gradient_boosting$")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    entrypoint: str | None = Field(default=None, pattern=ENTRYPOINT)

    @property
    def builtin(self) -> bool:
        """True for a built-in estimator (named without an import path)."""
        return self.estimator in BUILTIN_ESTIMATORS


class EvaluateSection(_Strict):
    """How the holdout is scored.

    Attributes:
        threshold: Binary only: probability of the positive class at or above which the
            predicted label is the positive class (0.5 when left out).
        calibration_bins: Equal-width bins of the reliability curve and the ECE.
        permutation_repeats: Shuffles per feature for permutation importance.
        metrics: The metrics registered with a version (every metric of the task when left
            out); gate metrics must be among them.
    """

    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    calibration_bins: int = Field(default=10, ge=2, le=100)
    permutation_repeats: int = Field(default=5, ge=1, le=50)
    metrics: list[str] | None = Field(default=None, min_length=1)


class GateSection(_Strict):
    """What a candidate must reach to be registered.

    Attributes:
        thresholds: Per metric, the limit on the holdout: a minimum for a metric where higher
            is better, a maximum where lower is better (the metric registry says which).
        serving_tolerance: Per metric, how much worse than the version serving in the
            environment compared with the candidate may be (in the metric's own units).
    """

    thresholds: dict[str, float] = Field(default_factory=dict)
    serving_tolerance: dict[str, float] = Field(default_factory=dict)

    @field_validator("serving_tolerance")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(name for name, tol in value.items() if not tol >= 0.0)
        if bad:
            raise ValueError(f"tolerances must be >= 0 (got a negative one for {', '.join(bad)})")
        return value


Scalar = str | int | float | bool
"""A label or attribute value as written in YAML."""


class ExplainSection(_Strict):
    """SHAP explanations of the candidate in the evaluation report.

    Attributes:
        enabled: Compute them (a tree model takes a second or two; the model-agnostic
            fallback longer: see :mod:`model_bundle.explain`).
        rows: Holdout rows explained (a seeded sample when the holdout is larger).
        dependence_plots: Dependence plots drawn, for the most important features.
    """

    enabled: bool = True
    rows: int = Field(default=500, ge=10, le=100_000)
    dependence_plots: int = Field(default=3, ge=0, le=20)


class BiasLimit(_Strict):
    """Bounds a bias metric must stay within (either may be left out).

    Attributes:
        min: Lowest value allowed.
        max: Highest value allowed.
    """

    min: float | None = None
    max: float | None = None


class BiasSection(_Strict):
    """Bias metrics for a sensitive attribute, as SageMaker Clarify defines them.

    Attributes:
        attribute: A model input or a column of the entity source (carried into the training
            set, not into the model).
        facet: The attribute's values of the sensitive group (Clarify's facet *d*; every
            other row is facet *a*).
        positive: Label values counted as the positive outcome (default: the positive class of
            a binary model; required for multiclass).
        label_threshold: Regression only (required there): a label or prediction at or above
            it is the positive outcome.
        thresholds: Per bias metric (see :mod:`model_build.pipeline.steps.bias`), the bounds
            the gate enforces.
    """

    attribute: str = Field(min_length=1)
    facet: list[Scalar] = Field(min_length=1)
    positive: list[Scalar] | None = Field(default=None, min_length=1)
    label_threshold: float | None = None
    thresholds: dict[str, BiasLimit] = Field(default_factory=dict)

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: dict[str, BiasLimit]) -> dict[str, BiasLimit]:
        from model_build.pipeline.steps.bias import BIAS_METRICS

        unknown = sorted(set(value) - set(BIAS_METRICS))
        if unknown:
            raise ValueError(
                f"unknown bias metric(s) {', '.join(unknown)}; known: {', '.join(BIAS_METRICS)}"
            )
        empty = sorted(k for k, v in value.items() if v.min is None and v.max is None)
        if empty:
            raise ValueError(f"give min or max for {', '.join(empty)}")
        return value


class SageMakerSection(_Strict):
    """Shape of the SageMaker Pipeline compiled from the same steps.

    Attributes:
        pipeline_name: SageMaker pipeline name (one per model).
        prefix: S3 key prefix for code, the feature repo and step outputs.
        processing_instance_type: Instance type of the processing steps.
        training_instance_type: Instance type of the training step.
        inference_instance_types: Instance types the registered package supports.
        volume_size_gb: EBS volume of each job.
        max_runtime_seconds: Training job time limit.
    """

    pipeline_name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
    prefix: str = Field(pattern=r"^[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*$")
    processing_instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.")
    training_instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.")
    inference_instance_types: list[str] = Field(default=["ml.m5.large"], min_length=1)
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=3600, ge=60)


class ModelDefinition(_Strict):
    """Everything ``model.yaml`` holds, plus the folder it was read from.

    Attributes:
        model: Name, task and feature service.
        data: Entity/label source, label and holdout.
        train: Estimator or entry point, hyperparameters and seed.
        evaluate: Threshold, report settings and the registered metrics.
        gate: Absolute thresholds and the tolerance against the serving version.
        explain: SHAP explanations in the report.
        bias: Bias metrics for a sensitive attribute (and their gate bounds), or None.
        sagemaker: SageMaker Pipeline settings.
    """

    model: ModelSection
    data: DataSection
    train: TrainSection
    evaluate: EvaluateSection = EvaluateSection()
    gate: GateSection = GateSection()
    explain: ExplainSection = ExplainSection()
    bias: BiasSection | None = None
    sagemaker: SageMakerSection
    _folder: Path | None = PrivateAttr(default=None)

    @property
    def name(self) -> str:
        """The registry model name."""
        return self.model.name

    @property
    def task(self) -> Task:
        """What the model predicts."""
        return self.model.task

    @property
    def feature_service(self) -> str:
        """The Feast feature service the model reads."""
        return self.model.feature_service

    @property
    def folder(self) -> Path | None:
        """The model folder (user code is imported from it), or None for an inline definition."""
        return self._folder

    def located(self, folder: Path | None) -> ModelDefinition:
        """This definition, read from ``folder``."""
        copy = self.model_copy()
        copy._folder = folder
        return copy

    @property
    def threshold(self) -> float | None:
        """The binary decision threshold (0.5 when left out); None for the other tasks."""
        if self.task is not Task.BINARY:
            return None
        return 0.5 if self.evaluate.threshold is None else self.evaluate.threshold

    def registered_metrics(self) -> list[str]:
        """The metrics recorded with a version: ``evaluate.metrics``, or every task metric."""
        from foundation.metrics import metrics_for

        return list(self.evaluate.metrics or metrics_for(self.task))

    def lineage(self) -> dict[str, Any]:
        """The settings that shape the model or its gate, as plain JSON values.

        SageMaker and explanation settings are left out, and so is ``bias`` when it is not
        declared, so adding them changes no digest.
        """
        exclude = {"sagemaker", "explain"} | ({"bias"} if self.bias is None else set())
        return self.model_dump(mode="json", exclude=exclude)

    def digest(self) -> str:
        """``sha256:<hex>`` of :meth:`lineage` in canonical JSON."""
        text = json.dumps(self.lineage(), sort_keys=True, separators=(",", ":"))
        return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"

    def to_yaml(self) -> str:
        """The definition as YAML that the loader reads back to an equal object."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
