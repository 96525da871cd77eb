"""Read tracked build runs back: list, show and compare (``slipway runs``).

Runs are read through ``MlflowClient`` from the store a tracker writes to (any store: the
embedded SQLite one, a tracking server, a SageMaker managed server). A run is named by its
MLflow run id or by Slipway's run id (its MLflow run name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from model_build.errors import TrackingError
from model_build.registry.compare import MetricDelta, compare_metrics

if TYPE_CHECKING:
    from model_build.tracking.mlflow_tracker import MlflowTracker

_SECONDS = "seconds."
_RUN_ID = re.compile(r"[0-9a-f]{32}")
"""An MLflow run id; anything else is taken as Slipway's run id (the run name)."""


@dataclass(frozen=True)
class RunSummary:
    """One tracked build.

    Attributes:
        run_id: MLflow run id.
        name: Slipway's run id (the run name).
        model_name: The model (its experiment).
        task: Its task ("" when the run does not say).
        status: Slipway's status (``registered``, ``passed``, ``blocked``, ``failed``).
        state: MLflow's run status (``FINISHED``, ``FAILED``...).
        started: Start time (UTC).
        registered: ``MODEL:VERSION`` when the run's candidate was registered.
        git_commit: The commit built.
        metrics: The run's metrics (step seconds left out).
        run_url: The run's page in the MLflow UI ("" when unknown).
    """

    run_id: str
    name: str
    model_name: str
    task: str
    status: str
    state: str
    started: datetime
    registered: str
    git_commit: str
    metrics: dict[str, float]
    run_url: str = ""


@dataclass(frozen=True)
class RunDetail:
    """A run with its parameters, tags, artifacts and logged models.

    Attributes:
        summary: The run.
        params: Flattened model definition.
        tags: Every tag (MLflow's and Slipway's).
        seconds: Step timings.
        artifacts: Artifact paths (files, recursively).
        models: Logged model URIs (``models:/m-<id>``).
        tracking_uri: The store.
    """

    summary: RunSummary
    params: dict[str, str]
    tags: dict[str, str]
    seconds: dict[str, float]
    artifacts: list[str]
    models: list[str]
    tracking_uri: str


@dataclass(frozen=True)
class RunComparison:
    """Run B against baseline run A.

    Attributes:
        a: Baseline run.
        b: Candidate run.
        deltas: Metric by metric (directions from the metric registry).
        params: Parameters that differ, ``{name: (in A, in B)}``.
    """

    a: RunSummary
    b: RunSummary
    deltas: list[MetricDelta]
    params: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``a``, ``b`` (run ids), ``metrics`` and ``param_changes``."""
        return {
            "a": self.a.run_id,
            "b": self.b.run_id,
            "metrics": [d.model_dump(mode="json") for d in self.deltas],
            "param_changes": {k: {"a": x, "b": y} for k, (x, y) in self.params.items()},
        }


def list_runs(
    tracker: MlflowTracker, *, model: str | None = None, limit: int = 20
) -> list[RunSummary]:
    """The newest ``limit`` runs, of one model (experiment) or of every model.

    Raises:
        TrackingError: The store failed, or ``model`` has no experiment.
    """
    client = tracker.client
    with tracker.errors("search runs"):
        if model is not None:
            found = client.get_experiment_by_name(model)
            if found is None:
                raise TrackingError(f"tracking store {tracker.uri}: no runs of model {model!r}")
            experiments = [found]
        else:
            experiments = list(client.search_experiments())
        ids = [e.experiment_id for e in experiments]
        names = {e.experiment_id: e.name for e in experiments}
        if not ids:
            return []
        runs = client.search_runs(ids, max_results=limit, order_by=["attributes.start_time DESC"])
    return [_summary(tracker, run, names.get(run.info.experiment_id, "")) for run in runs]


def get_run(tracker: MlflowTracker, run: str) -> RunDetail:
    """One run by MLflow run id or Slipway run id.

    Raises:
        TrackingError: No such run, or the store failed.
    """
    found = _find(tracker, run)
    client = tracker.client
    with tracker.errors(f"run {run}"):
        experiment = client.get_experiment(found.info.experiment_id)
        artifacts = _artifacts(client, found.info.run_id, path=None)
        models = [
            f"models:/{m.model_id}"
            for m in client.search_logged_models(
                experiment_ids=[found.info.experiment_id],
                filter_string=f"source_run_id = '{found.info.run_id}'",
            )
        ]
    summary = _summary(tracker, found, experiment.name)
    metrics = dict(found.data.metrics)
    return RunDetail(
        summary=summary,
        params=dict(found.data.params),
        tags=dict(found.data.tags),
        seconds={k[len(_SECONDS) :]: v for k, v in metrics.items() if k.startswith(_SECONDS)},
        artifacts=artifacts,
        models=models,
        tracking_uri=tracker.uri,
    )


def compare_runs(tracker: MlflowTracker, a: str, b: str) -> RunComparison:
    """How run ``b`` compares with baseline run ``a``: metrics and parameters.

    Raises:
        TrackingError: A run is missing, or the store failed.
    """
    first, second = _find(tracker, a), _find(tracker, b)
    sa = _summary(tracker, first, first.data.tags.get("slipway.model_name", ""))
    sb = _summary(tracker, second, second.data.tags.get("slipway.model_name", ""))
    pa, pb = dict(first.data.params), dict(second.data.params)
    changes = {
        name: (pa.get(name), pb.get(name))
        for name in sorted(set(pa) | set(pb))
        if pa.get(name) != pb.get(name)
    }
    return RunComparison(a=sa, b=sb, deltas=compare_metrics(sa.metrics, sb.metrics), params=changes)


def _find(tracker: MlflowTracker, run: str) -> Any:
    client = tracker.client
    with tracker.errors(f"run {run}"):
        if _RUN_ID.fullmatch(run):
            return client.get_run(run)
        experiments = [e.experiment_id for e in client.search_experiments()]
        found = (
            client.search_runs(
                experiments, filter_string=f"attributes.run_name = '{_quoted(run)}'", max_results=2
            )
            if experiments
            else []
        )
    if len(found) != 1:
        what = "no run" if not found else "several runs"
        raise TrackingError(f"tracking store {tracker.uri}: {what} named {run!r}")
    return found[0]


def _summary(tracker: MlflowTracker, run: Any, experiment: str) -> RunSummary:
    tags, info = run.data.tags, run.info
    metrics = {k: v for k, v in run.data.metrics.items() if not k.startswith(_SECONDS)}
    return RunSummary(
        run_id=str(info.run_id),
        name=str(info.run_name or ""),
        model_name=tags.get("slipway.model_name", experiment),
        task=tags.get("slipway.task", ""),
        status=tags.get("slipway.status", ""),
        state=str(info.status),
        started=datetime.fromtimestamp((info.start_time or 0) / 1000, tz=UTC),
        registered=tags.get("slipway.registered", ""),
        git_commit=tags.get("mlflow.source.git.commit", ""),
        metrics=metrics,
        run_url=tracker.store.run_url(experiment_id=str(info.experiment_id), run_id=info.run_id),
    )


def _artifacts(client: Any, run_id: str, *, path: str | None) -> list[str]:
    found: list[str] = []
    for entry in client.list_artifacts(run_id, path):
        if entry.is_dir:
            found.extend(_artifacts(client, run_id, path=entry.path))
        else:
            found.append(str(entry.path))
    return found


def _quoted(text: str) -> str:
    return text.replace("'", "")
