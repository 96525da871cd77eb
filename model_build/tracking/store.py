"""Which tracking store a build uses, and the tracker that writes to it.

``SLIPWAY_TRACKING_URI`` names a remote store; unset, the embedded store is SQLite
(``<tracking_dir>/mlflow.db``) with artifacts in ``<tracking_dir>/artifacts/<model>/`` (the
artifact location is set explicitly when an experiment is created: with SQLite MLflow would
otherwise write ``./mlruns`` under the current folder; MLflow 3.17 refuses file stores). Nothing
here imports MLflow; :func:`open_tracker` returns a tracker that imports it on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from model_build.tracking.record import NO_TRACKING, Tracker

if TYPE_CHECKING:
    from model_build.settings import BuildSettings

DB_FILE: Final = "mlflow.db"
ARTIFACTS_DIR: Final = "artifacts"
EMBEDDED_UI: Final = "http://127.0.0.1:5000"
"""Where ``mlflow ui`` listens by default: the UI of the embedded store's run links."""


@dataclass(frozen=True)
class TrackingStore:
    """A resolved tracking store.

    Attributes:
        uri: The tracking URI handed to MLflow.
        artifact_root: Folder of the artifacts of the embedded store (None for a remote one,
            whose server picks the artifact location).
        ui_url: Base address of the MLflow UI for run links ("" when unknown).
    """

    uri: str
    artifact_root: Path | None
    ui_url: str

    @property
    def embedded(self) -> bool:
        """Whether this is the embedded SQLite store."""
        return self.artifact_root is not None

    def run_url(self, *, experiment_id: str, run_id: str) -> str:
        """The run's page in the UI, or "" when the UI address is unknown."""
        if not self.ui_url:
            return ""
        return f"{self.ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def resolve_store(settings: BuildSettings) -> TrackingStore:
    """The store the settings name (see :class:`~model_build.settings.BuildSettings`)."""
    if settings.tracking_uri:
        uri = settings.tracking_uri
        ui = settings.tracking_ui_url or (uri if uri.startswith(("http://", "https://")) else "")
        return TrackingStore(uri=uri, artifact_root=None, ui_url=ui)
    folder = (settings.tracking_dir or settings.registry_path.parent / "tracking").resolve()
    return TrackingStore(
        uri=f"sqlite:///{folder / DB_FILE}",
        artifact_root=folder / ARTIFACTS_DIR,
        ui_url=settings.tracking_ui_url or EMBEDDED_UI,
    )


def open_tracker(settings: BuildSettings) -> Tracker:
    """The tracker the settings ask for: MLflow on the resolved store, or none (tracking off)."""
    if not settings.tracking:
        return NO_TRACKING
    from model_build.tracking.mlflow_tracker import MlflowTracker

    return MlflowTracker(store=resolve_store(settings))
