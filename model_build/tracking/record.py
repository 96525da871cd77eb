"""What a build hands its tracker, and what the tracker gives back (no MLflow import here).

A :class:`BuildRecord` is one build run: flattened parameters, metrics, tags, the files of the
run folder to keep as artifacts and the bundle folder to log as the run's model. A tracker
returns a :class:`~model_build.registry.protocol.TrackingLink`, which the registered version
records.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from model_build.registry.protocol import TrackingLink

MAX_PARAM_CHARS: Final = 6000
"""MLflow's limit on a parameter value; longer values are cut (and end with ``...``)."""
ARTIFACTS: Final = (
    "evaluation.json", "gate.json", "bias.json", "validation.json", "training_set.json",
    "plots", "explanations", "baseline",
)  # fmt: skip
"""Files and folders of a run folder logged as the run's artifacts, when present."""


@dataclass(frozen=True)
class BuildRecord:
    """One build run as the tracker logs it.

    Attributes:
        model_name: The model (the experiment's name).
        run_name: Slipway's run id (the MLflow run name).
        status: ``registered``, ``passed``, ``blocked`` or ``failed``.
        params: Flattened model definition (dotted keys, text values).
        metrics: Holdout metrics, bias metrics and step seconds, by name.
        tags: MLflow and Slipway tags (git commit, data hash, feature service...).
        run_folder: The run folder whose :data:`ARTIFACTS` are logged.
        bundle_dir: The bundle folder logged as the run's model (None: no model, e.g. a
            failed build).
    """

    model_name: str
    run_name: str
    status: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    run_folder: Path
    bundle_dir: Path | None = None


class Tracker(Protocol):
    """Where build runs are recorded."""

    @property
    def uri(self) -> str:
        """The tracking URI (empty when nothing is tracked)."""
        ...

    def log_build(self, record: BuildRecord) -> TrackingLink | None:
        """Record one build run and its model; return the link to it (None: not tracked).

        Raises:
            TrackingError: The tracking store refused or failed.
        """
        ...

    def annotate(self, link: TrackingLink, *, tags: Mapping[str, str]) -> None:
        """Add tags to a recorded run (e.g. the registered version).

        Raises:
            TrackingError: The tracking store refused or failed.
        """
        ...


class NoTracking:
    """The tracker when tracking is off: records nothing."""

    uri = ""

    def log_build(self, record: BuildRecord) -> TrackingLink | None:
        """Record nothing."""
        return None

    def annotate(self, link: TrackingLink, *, tags: Mapping[str, str]) -> None:
        """Record nothing."""


NO_TRACKING: Final = NoTracking()


def flatten(document: Mapping[str, Any], *, prefix: str = "") -> dict[str, str]:
    """Dotted keys and text values of a nested document (lists and nulls as JSON)."""
    flat: dict[str, str] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, prefix=f"{name}."))
            continue
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        if len(text) > MAX_PARAM_CHARS:
            text = text[: MAX_PARAM_CHARS - 3] + "..."
        flat[name] = text
    return flat


def slipway_version() -> str:
    """The installed Slipway version (``unknown`` when not installed as a distribution)."""
    try:
        return importlib.metadata.version("slipway")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
