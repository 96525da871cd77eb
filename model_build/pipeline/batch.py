"""Build several models in one go: each model folder runs the whole local pipeline in turn.

A failing model does not stop the others: every outcome is recorded (:class:`ModelOutcome`),
and the caller decides what the batch's failure is (:meth:`BatchReport.raise_for_failures`).
``slipway build run`` with no ``--model`` builds every folder of ``model_build/models/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.errors import SlipwayError
from model_build.errors import BuildError

if TYPE_CHECKING:
    from model_build.pipeline.local_runner import BuildResult


class BatchBuildError(BuildError):
    """One or more models of a batch failed or were blocked; the message names each."""


@dataclass(frozen=True)
class ModelOutcome:
    """What happened to one model of a batch.

    Attributes:
        model_path: The ``model.yaml`` built.
        result: The build result (None when the build raised).
        error: The error that stopped it (None when it passed).
    """

    model_path: Path
    result: BuildResult | None = None
    error: SlipwayError | None = None

    @property
    def model_name(self) -> str:
        """The model's name (its folder's name when the definition could not be read)."""
        return self.result.model_name if self.result else self.model_path.parent.name

    def to_json(self) -> dict[str, Any]:
        """One build as plain JSON: model, task, status, version, digests, metrics, warnings."""
        result = self.result
        if result is None:
            return {
                "model": self.model_name,
                "model_path": str(self.model_path),
                "status": "blocked" if _blocked(self.error) else "failed",
                "error": str(self.error),
            }
        return {
            "model": result.model_name,
            "model_path": str(self.model_path),
            "task": result.task,
            "status": result.status,
            "version": result.version.ref if result.version else None,
            "run_id": result.run_id,
            "run_dir": str(result.run_dir),
            "artifact_digest": result.artifact_digest,
            "data_hash": result.data_hash,
            "metrics": dict(result.metrics),
            "gate": result.gate.summary(),
            "seconds": result.seconds,
            "warnings": list(result.warnings),
            "error": None,
            "tracking": result.tracking.model_dump() if result.tracking else None,
            "shap_plot": str(result.shap_plot) if result.shap_plot else None,
            "bias": result.bias.to_dict() if result.bias else None,
        }


@dataclass(frozen=True)
class BatchReport:
    """Every model of a batch, in build order."""

    outcomes: list[ModelOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ModelOutcome]:
        """The models that raised (failed or blocked)."""
        return [o for o in self.outcomes if o.error is not None]

    def to_json(self) -> dict[str, Any]:
        """``{"builds": [...], "failed": [names]}``."""
        return {
            "builds": [o.to_json() for o in self.outcomes],
            "failed": [o.model_name for o in self.failed],
        }

    def raise_for_failures(self) -> None:
        """Raise when a model failed: its own error for a batch of one, else a summary.

        Raises:
            SlipwayError: The one model's error.
            BatchBuildError: Several models, one or more failed; one clause per failure.
        """
        failed = self.failed
        if not failed:
            return
        if len(self.outcomes) == 1 and failed[0].error is not None:
            raise failed[0].error
        clauses = "; ".join(f"{o.model_name}: {o.error}" for o in failed)
        raise BatchBuildError(f"{len(failed)} of {len(self.outcomes)} models failed: {clauses}")


def build_each(model_paths: list[Path], build: Callable[[Path], BuildResult]) -> BatchReport:
    """Run ``build`` on every model path; expected failures are recorded, not raised.

    Only :class:`~foundation.errors.SlipwayError` is recorded; anything else is a bug and
    propagates.
    """
    outcomes: list[ModelOutcome] = []
    for path in model_paths:
        try:
            outcomes.append(ModelOutcome(model_path=path, result=build(path)))
        except SlipwayError as exc:
            outcomes.append(ModelOutcome(model_path=path, error=exc))
    return BatchReport(outcomes=outcomes)


def _blocked(error: SlipwayError | None) -> bool:
    from model_build.errors import GateFailedError

    return isinstance(error, GateFailedError)
