"""One monitoring run per deployment: capture window, baseline, labels, metrics, freshness.

:func:`monitor_deployment` is ``slipway monitor run`` for one deployment:

1. the version monitored is the one serving (:mod:`slipway.monitor.deployments`: the deploy
   history, else the manifest's ``model:``; nothing deployed is a ``Failed`` result saying so);
2. its registry record gives the registered metrics; the registry gives its baseline
   (``fetch_baseline``; none is a :class:`~slipway.monitor.errors.NoBaselineError` naming
   model and version), unless a baseline folder is given;
3. the window's capture (:mod:`slipway.monitor.capture`) and the endpoint's ground truth
   (:mod:`slipway.monitor.labels`) go to ``model_monitor.report.run_monitor`` with the
   manifest's ``monitoring:`` settings;
4. the result gains the deployment (``env``, ``model``, ``deployment``, ``version``), the
   window asked for, where the capture was read, the report's path and the feature views'
   freshness. Stale views are warnings, or violations (``feature_freshness_check``) when the
   manifest's ``monitoring.stale_features`` is ``violation``.

An empty window is ``Failed`` (nothing analysed), not a violation.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from slipway.monitor.deployments import MonitoredDeployment
from slipway.monitor.errors import MonitorRunError, NoBaselineError
from slipway.monitor.labels import read_labels

if TYPE_CHECKING:
    from feature_store.freshness import FreshnessReport
    from model_deploy.service import Deployer
    from model_monitor.baseline import Baseline
    from model_monitor.report import MonitorConfig, MonitorResult

FAILED: Final = "Failed"
COMPLETED: Final = "Completed"
WITH_VIOLATIONS: Final = "CompletedWithViolations"
FRESHNESS_CHECK: Final = "feature_freshness_check"

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class RunRequest:
    """What every deployment's run shares.

    Attributes:
        since: Start of the window (aware).
        until: End of the window (aware, exclusive).
        out_dir: Folder of this deployment's files.
        labels_root: The ground-truth root.
        baseline_dir: A baseline folder to use instead of the registry's.
        clients: boto3 client factory (S3 captures).
        workers: Capture parsing processes.
    """

    since: datetime
    until: datetime
    out_dir: Path
    labels_root: Path
    baseline_dir: Path | None = None
    clients: ClientFactory | None = None
    workers: int = 1


@dataclass(frozen=True)
class DeploymentResult:
    """The monitoring result of one deployment, with what ``slipway monitor`` adds.

    Attributes:
        deployment: The deployment.
        since: Start of the window asked for.
        until: End of the window asked for.
        result: ``run_monitor``'s result (None when nothing is deployed).
        freshness: The feature views' freshness (None when not checked).
        warnings: Warnings beyond the result's (capture, freshness, nothing deployed).
        stale_violations: Whether stale views are violations (the manifest says so).
        failure_reason: Why there is no result (nothing deployed, or the error).
        error: The error that stopped this deployment's run (several deployments: the others
            still run), one line.
    """

    deployment: MonitoredDeployment
    since: datetime
    until: datetime
    result: MonitorResult | None
    freshness: FreshnessReport | None = None
    warnings: tuple[str, ...] = ()
    stale_violations: bool = False
    failure_reason: str | None = None
    error: str | None = None

    @property
    def freshness_violations(self) -> list[dict[str, str]]:
        """Stale views as constraint violations (only when the manifest makes them so)."""
        if not self.stale_violations or self.freshness is None:
            return []
        return [
            {
                "feature_name": view.view,
                "constraint_check_type": FRESHNESS_CHECK,
                "description": f"feature view {view.view}: newest online value is "
                f"{view.age_seconds:.0f} s old, above its TTL of {view.ttl_seconds:.0f} s",
            }
            for view in self.freshness.views
            if view.stale
        ]

    @property
    def status(self) -> str:
        """``Completed``, ``CompletedWithViolations`` or ``Failed``."""
        if self.result is None:
            return FAILED
        if self.result.status == COMPLETED and self.freshness_violations:
            return WITH_VIOLATIONS
        return self.result.status

    @property
    def has_violations(self) -> bool:
        """Whether the run found a violation (data, drift, quality, or stale features)."""
        return self.status == WITH_VIOLATIONS

    @property
    def report(self) -> Path | None:
        """The HTML report."""
        return None if self.result is None else self.result.files.get("html")

    @property
    def all_warnings(self) -> list[str]:
        """The result's warnings and this run's, stale views included."""
        found = list(self.result.warnings if self.result else ()) + list(self.warnings)
        if self.freshness is not None and not self.stale_violations:
            found += [
                f"feature view {name} is stale (older than its TTL)"
                for name in self.freshness.stale
            ]
        return found

    def to_json(self) -> dict[str, Any]:
        """``summary.json`` plus ``env``, ``model``, ``version``, ``report``, ``freshness``."""
        doc: dict[str, Any] = self.result.to_json() if self.result is not None else _empty()
        d = self.deployment
        doc["status"] = self.status
        doc["failure_reason"] = doc.get("failure_reason") or self.failure_reason
        doc["violations"] = [*doc.get("violations", []), *self.freshness_violations]
        if self.freshness_violations:
            counts = dict(doc.get("violation_counts") or {})
            counts[FRESHNESS_CHECK] = len(self.freshness_violations)
            doc["violation_counts"] = counts
        doc["warnings"] = self.all_warnings
        return {
            "env": d.env,
            "model": d.model,
            "deployment": d.key,
            "version": d.version,
            "error": self.error,
            "window_requested": {"since": self.since.isoformat(), "until": self.until.isoformat()},
            "capture": d.capture.describe(),
            "report": None if self.report is None else str(self.report),
            "freshness": None if self.freshness is None else self.freshness.to_json(),
            **doc,
        }


@dataclass(frozen=True)
class MonitorRun:
    """Every deployment's result of one ``slipway monitor run``."""

    results: tuple[DeploymentResult, ...] = field(default_factory=tuple)
    single: bool = False

    @property
    def has_violations(self) -> bool:
        """Whether any deployment has a violation."""
        return any(r.has_violations for r in self.results)

    @property
    def errors(self) -> list[str]:
        """``<deployment>: <error>`` of every deployment whose run failed."""
        return [f"{r.deployment.key}: {r.error}" for r in self.results if r.error]

    def to_json(self) -> dict[str, Any]:
        """One result as itself (``--model``), else ``{"results": [...]}``."""
        if self.single and len(self.results) == 1:
            return self.results[0].to_json()
        return {"results": [r.to_json() for r in self.results]}


def monitor_deployment(
    deployer: Deployer,
    deployment: MonitoredDeployment,
    *,
    request: RunRequest,
    freshness: FreshnessReport | None = None,
    freshness_warning: str | None = None,
) -> DeploymentResult:
    """Run the monitor on one deployment's window (see the module's docstring).

    Raises:
        RegistryLookupError: The version is not registered (or the registry failed).
        NoBaselineError: The version has no baseline.
        MonitorRunError: The capture cannot be read (S3), or the baseline cannot be fetched.
        BaselineError: The baseline's files are invalid.
        ManifestError: The manifest's ``monitoring:`` block is invalid.
    """
    from model_monitor.report import run_monitor

    ref = deployment.ref
    extra = list(deployment.notes)
    if freshness_warning:
        extra.append(freshness_warning)
    if freshness is not None:
        extra += list(freshness.warnings)
    stale_violations = _stale_is_violation(deployment)
    if ref is None:
        return DeploymentResult(
            deployment, request.since, request.until, None, freshness, tuple(extra),
            stale_violations, failure_reason="nothing is deployed (the manifest says model: null)",
        )  # fmt: skip
    version = deployer.lookup(ref)
    config, rows = _config(deployment)
    with tempfile.TemporaryDirectory(prefix="slipway-monitor-") as tmp:
        work = Path(tmp)
        baseline = _baseline(deployer, deployment, request=request, directory=work / "baseline")
        if rows is not None:
            baseline = _limit(baseline, rows)
        from slipway.monitor.capture import load_capture

        loaded = load_capture(
            source=deployment.capture, schema=baseline.schema, since=request.since,
            until=request.until, work_dir=work, clients=request.clients, workers=request.workers,
        )  # fmt: skip
        labels = read_labels(
            root=request.labels_root, endpoint=deployment.endpoint, since=request.since
        )
        result = run_monitor(
            window=loaded.window,
            baseline=baseline,
            out_dir=request.out_dir,
            config=config,
            labels=labels or None,
            registered_metrics=dict(version.metrics),
        )
    return DeploymentResult(
        deployment, request.since, request.until, result, freshness, tuple(extra), stale_violations
    )


def _baseline(
    deployer: Deployer, deployment: MonitoredDeployment, *, request: RunRequest, directory: Path
) -> Baseline:
    from model_build.errors import BuildError
    from model_monitor.baseline import load_baseline

    if request.baseline_dir is not None:
        return load_baseline(directory=request.baseline_dir)
    ref = deployment.ref
    assert ref is not None  # checked by the caller
    registry = deployer.registry(ref.registry)
    try:
        folder = registry.fetch_baseline(
            model_name=ref.name, version=ref.version, directory=directory
        )
    except BuildError as exc:
        raise MonitorRunError(
            f"{deployment.key}: cannot fetch the baseline of {ref.ref} from the {ref.registry} "
            f"registry: {exc}"
        ) from exc
    if folder is None:
        raise NoBaselineError(
            f"{deployment.key}: {ref.name} version {ref.version} has no baseline in the "
            f"{ref.registry} registry (registered before baselines were built): rebuild and "
            "register it, or pass --baseline DIR"
        )
    return load_baseline(directory=folder)


def _config(deployment: MonitoredDeployment) -> tuple[MonitorConfig, int | None]:
    """The run's settings and reference size from the manifest's ``monitoring:`` block."""
    from model_deploy.manifest.monitoring import monitor_config, reference_rows

    return monitor_config(deployment.manifest), reference_rows(deployment.manifest)


def _limit(baseline: Baseline, rows: int) -> Baseline:
    from model_deploy.manifest.monitoring import limit_reference

    return limit_reference(baseline, rows=rows)


def default_window(deployment: MonitoredDeployment) -> timedelta:
    """The manifest's ``monitoring.window`` (24 h unless it says otherwise)."""
    from model_deploy.manifest.monitoring import monitoring_window

    return monitoring_window(deployment.manifest)


def _stale_is_violation(deployment: MonitoredDeployment) -> bool:
    return deployment.manifest.monitoring.stale_features == "violation"


def _empty() -> dict[str, Any]:
    return {
        "status": FAILED,
        "failure_reason": None,
        "window": None,
        "violations": [],
        "violation_counts": {},
        "drifted_columns": [],
        "drift": None,
        "model_quality": None,
        "warnings": [],
        "files": {},
    }
