"""The MLflow tracker: one run per build, its artifacts, and the bundle as the run's model.

Each model is an experiment (named after the model; in the embedded store its artifact location
is ``<tracking_dir>/artifacts/<model>``). A build is a run named after Slipway's run id with the
flattened definition as parameters, the holdout and bias metrics, tags (``mlflow.source.git.commit``
set by Slipway: MLflow fills it only when ``sys.argv[0]`` lies in a git work tree, which a
console script does not) and the run folder's reports as artifacts. The bundle folder, already
an MLflow model, is logged as the run's **logged model** as it is (``models:/m-<id>``: its
``MLmodel`` carries the signature and input example), so the tracked model and the registered
artifact are the same bytes. Everything goes through :class:`mlflow.tracking.MlflowClient`
(no global active run), imported on first use.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from model_build.errors import TrackingError
from model_build.registry.protocol import TrackingLink
from model_build.tracking.record import ARTIFACTS, BuildRecord

if TYPE_CHECKING:
    from model_build.tracking.store import TrackingStore

_BATCH = 100
"""MLflow takes at most 100 params (and 1000 metrics) per log_batch request."""
_RUN_STATUS = {"registered": "FINISHED", "passed": "FINISHED", "blocked": "FAILED"}


class MlflowTracker:
    """Logs builds to the MLflow store ``store`` (see the module docs)."""

    def __init__(self, *, store: TrackingStore) -> None:
        self.store = store
        self._client: Any = None

    def __repr__(self) -> str:
        return f"MlflowTracker(uri={self.store.uri!r})"

    @property
    def uri(self) -> str:
        """The tracking URI."""
        return self.store.uri

    @property
    def client(self) -> Any:
        """The ``MlflowClient`` of the store (MLflow is imported here, on first use)."""
        if self._client is None:
            if self.store.artifact_root is not None:
                self.store.artifact_root.mkdir(parents=True, exist_ok=True)
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.store.uri)
        return self._client

    def experiment_id(self, name: str) -> str:
        """The id of experiment ``name``, created (with its artifact location) when missing.

        Raises:
            TrackingError: The store refused or failed.
        """
        from mlflow.exceptions import MlflowException

        with self.errors(f"experiment {name}"):
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                return str(found.experiment_id)
            location = None
            if self.store.artifact_root is not None:
                location = (self.store.artifact_root / name).as_uri()
            try:
                return str(self.client.create_experiment(name, artifact_location=location))
            except MlflowException:  # another process created it first
                again = self.client.get_experiment_by_name(name)
                if again is None:
                    raise
                return str(again.experiment_id)

    def log_build(self, record: BuildRecord) -> TrackingLink:
        """Create the run, log everything, log the bundle as its model, end it; link it.

        Raises:
            TrackingError: The store refused or failed; the message names the URI.
        """
        from mlflow.entities import LoggedModelOutput, Metric, Param, RunTag

        experiment = self.experiment_id(record.model_name)
        with self.errors(f"run {record.run_name}"):
            run = self.client.create_run(experiment, run_name=record.run_name, tags=record.tags)
            run_id = str(run.info.run_id)
            model_id = ""
            if record.bundle_dir is not None:
                model = self.client.create_logged_model(
                    experiment,
                    name=record.model_name,
                    source_run_id=run_id,
                    tags={k: v for k, v in record.tags.items() if k.startswith("slipway.")},
                    model_type="slipway-bundle",
                )
                model_id = str(model.model_id)
                self.client.log_model_artifacts(model_id, str(record.bundle_dir))
                self.client.finalize_logged_model(model_id, "READY")
                self.client.log_outputs(run_id, [LoggedModelOutput(model_id=model_id, step=0)])
            now = int(time.time() * 1000)
            params = [Param(k, v) for k, v in sorted(record.params.items())]
            metrics = [
                Metric(k, float(v), now, 0, model_id=model_id or None)
                for k, v in sorted(record.metrics.items())
            ]
            for start in range(0, max(len(params), len(metrics), 1), _BATCH):
                self.client.log_batch(
                    run_id,
                    metrics=metrics[start : start + _BATCH],
                    params=params[start : start + _BATCH],
                    tags=[RunTag("slipway.status", record.status)] if start == 0 else [],
                )
            for name in ARTIFACTS:
                path = record.run_folder / name
                if path.is_dir():
                    self.client.log_artifacts(run_id, str(path), artifact_path=name)
                elif path.is_file():
                    self.client.log_artifact(run_id, str(path))
            self.client.set_terminated(run_id, status=_RUN_STATUS.get(record.status, "FAILED"))
        return TrackingLink(
            tracking_uri=self.store.uri,
            experiment_id=experiment,
            run_id=run_id,
            model_uri=f"models:/{model_id}" if model_id else "",
            run_url=self.store.run_url(experiment_id=experiment, run_id=run_id),
        )

    def annotate(self, link: TrackingLink, *, tags: Mapping[str, str]) -> None:
        """Set ``tags`` on the linked run.

        Raises:
            TrackingError: The store refused or failed.
        """
        with self.errors(f"run {link.run_id}"):
            for key, value in tags.items():
                self.client.set_tag(link.run_id, key, value)

    def errors(self, what: str) -> Any:
        """A context mapping store failures to :class:`TrackingError` naming ``what``."""
        return _MapErrors(uri=self.store.uri, what=what)


class _MapErrors:
    """Turn MLflow, database and I/O failures into one TrackingError naming the store."""

    def __init__(self, *, uri: str, what: str) -> None:
        self.uri, self.what = uri, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, TrackingError):
            return False
        from mlflow.exceptions import MlflowException

        if isinstance(exc, MlflowException | OSError) or type(exc).__module__.startswith(
            ("sqlalchemy", "requests", "urllib3", "botocore")
        ):
            message = " ".join(str(exc).split())[:500]
            raise TrackingError(f"tracking store {self.uri}: {self.what}: {message}") from exc
        return False
