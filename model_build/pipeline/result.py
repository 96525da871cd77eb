"""What a local build produced (:class:`BuildResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from model_build.pipeline.run_record import Status

if TYPE_CHECKING:
    from model_build.pipeline.steps.bias import BiasReport
    from model_build.pipeline.steps.explain import ExplanationReport
    from model_build.pipeline.steps.gate import GateResult
    from model_build.registry.protocol import ModelVersion, TrackingLink


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
        tracking: The MLflow run and logged model, when the build was tracked.
        explanations: The SHAP report (``explanations/`` of the run folder), when computed.
        bias: The bias metrics, when the model declares a sensitive attribute.
        monitoring_baseline: The run folder's monitoring baseline (``baseline/``: registered
            with the version), or None when the training frame could not be baselined.
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
    tracking: TrackingLink | None = None
    explanations: ExplanationReport | None = None
    bias: BiasReport | None = None
    monitoring_baseline: Path | None = None

    @property
    def shap_plot(self) -> Path | None:
        """The SHAP importance plot, when explanations were computed."""
        if self.explanations is None or not self.explanations.plots:
            return None
        return self.run_dir / self.explanations.plots[0]
