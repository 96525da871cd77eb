"""What every model registry offers, and what a registered model version records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from model_bundle.task import DEFAULT_TASK, Task


class ApprovalStatus(StrEnum):
    """Approval state of a model version (SageMaker's names, shortened)."""

    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class TrackingLink(BaseModel):
    """Where a version's build run is in the experiment tracking store (MLflow).

    Attributes:
        tracking_uri: The tracking store (``sqlite:///...``, ``https://...`` or a SageMaker
            managed MLflow tracking server ARN).
        experiment_id: The run's experiment (one per model).
        run_id: The MLflow run id.
        model_uri: The logged model (``models:/m-<id>``), loadable with
            ``mlflow.pyfunc.load_model``.
        run_url: The run's page in the MLflow UI, when the store has a known UI address.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str
    experiment_id: str
    run_id: str
    model_uri: str = ""
    run_url: str = ""


class BiasRecord(BaseModel):
    """The bias metrics registered with a version (see ``model_build.pipeline.steps.bias``).

    Attributes:
        attribute: The sensitive attribute.
        facet: Its values forming the sensitive group (Clarify's facet *d*).
        metrics: Clarify's metrics by Slipway name; None when one cannot be computed.
        limits: The gate bounds per metric (``{"min": x, "max": y}``), if any.
        passed: Whether every bound held (None: no bound declared).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    attribute: str
    facet: list[Any]
    metrics: dict[str, float | None]
    limits: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    passed: bool | None = None


class NewVersion(BaseModel):
    """Everything recorded when a version is registered (lineage and evaluation).

    Attributes:
        model_name: Model (package group) name, e.g. ``driver_ranking``.
        task: What the model predicts (``binary``, ``multiclass``, ``regression``); versions
            registered before tasks existed read as ``binary``.
        artifact_digest: Digest of the model bundle (``sha256:<hex>``).
        metrics: Evaluation metrics on the holdout (``roc_auc``, ``log_loss``, ``rmse``...;
            directions in :mod:`foundation.metrics`).
        params: Training hyperparameters and seed.
        git_sha: Commit the model was built from.
        data_hash: Hash of the training data snapshot.
        feature_service: Feast feature service the model reads.
        features: Ordered feature list the model was trained on.
        run_id: Build run identifier (Slipway's run folder name).
        description: Free text.
        tracking: The build's MLflow run and logged model, when the build was tracked.
        bias: Bias metrics of a declared sensitive attribute, when the model declares one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9_])*$", max_length=63)
    task: Task = DEFAULT_TASK
    artifact_digest: str
    metrics: dict[str, float]
    params: dict[str, Any] = Field(default_factory=dict)
    git_sha: str = "unknown"
    data_hash: str = "unknown"
    feature_service: str
    features: list[str]
    run_id: str = ""
    description: str = ""
    tracking: TrackingLink | None = None
    bias: BiasRecord | None = None


class ModelVersion(NewVersion):
    """A registered version.

    Attributes:
        version: 1, 2, ... per model name, in registration order.
        status: Approval status.
        artifact_uri: Where the bundle lives (a folder path or ``s3://.../model.tar.gz``).
        created_at: Registration time (UTC).
        status_reason: Why the status was last changed.
        arn: Registry-native identifier (SageMaker model package ARN), if any.
    """

    version: int
    status: ApprovalStatus = ApprovalStatus.PENDING
    artifact_uri: str
    created_at: datetime
    status_reason: str = ""
    arn: str | None = None

    @property
    def ref(self) -> str:
        """Human reference ``<model_name>:<version>``."""
        return f"{self.model_name}:{self.version}"


@runtime_checkable
class ModelRegistry(Protocol):
    """A store of model versions with approval states.

    Implementations: ``LocalRegistry`` (embedded, on disk) and ``SageMakerRegistry`` (model
    package groups via boto3). Both satisfy the same contract test suite.
    """

    def list_models(self) -> list[str]:
        """Names of the models that have at least one version, sorted."""
        ...

    def register(
        self, *, new: NewVersion, bundle_dir: Path, baseline_dir: Path | None = None
    ) -> ModelVersion:
        """Store the bundle (and the monitoring baseline, if given) as a new Pending version.

        ``baseline_dir`` is a baseline folder (``statistics.json``, ``constraints.json``,
        ``baseline.json``, ``reference.parquet``: see :mod:`model_build.registry.baselines`),
        stored byte for byte with the version.
        """
        ...

    def get(self, *, model_name: str, version: int) -> ModelVersion:
        """Return one version; raises ``VersionNotFoundError``."""
        ...

    def list_versions(
        self, *, model_name: str, status: ApprovalStatus | None = None
    ) -> list[ModelVersion]:
        """All versions of a model, oldest first, optionally filtered by status."""
        ...

    def latest(
        self, *, model_name: str, status: ApprovalStatus | None = ApprovalStatus.APPROVED
    ) -> ModelVersion | None:
        """The newest version (with that status), or None."""
        ...

    def set_status(
        self,
        *,
        model_name: str,
        version: int,
        status: ApprovalStatus,
        reason: str = "",
        force: bool = False,
    ) -> ModelVersion:
        """Approve or reject a version.

        Allowed: Pending -> Approved | Rejected, Approved -> Rejected, and setting the current
        status again (a no-op). Rejected -> Approved needs ``force=True`` (an explicit override);
        anything else raises ``InvalidTransitionError``.
        """
        ...

    def fetch_bundle(self, *, model_name: str, version: int, directory: Path) -> Path:
        """Copy the version's bundle into ``directory`` and return the bundle folder."""
        ...

    def fetch_baseline(self, *, model_name: str, version: int, directory: Path) -> Path | None:
        """Copy the version's baseline files into ``directory`` and return it.

        None when the version has no baseline (registered before baselines existed, or
        without one); ``VersionNotFoundError`` when there is no such version.
        """
        ...
