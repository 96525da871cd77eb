"""``slipway monitor run`` and ``slipway monitor labels`` as library calls (no terminal here).

:func:`monitor_run` selects the deployments of an environment (or one, ``model``), works out
the window and the output folder of each, reads the feature views' freshness once and runs
:func:`~slipway.monitor.run.monitor_deployment` for each deployment in turn.

Window: ``until`` defaults to now; ``since`` is a duration back from ``until`` (``24h``,
``7d``) or an ISO 8601 time, and defaults to the manifest's ``monitoring.window`` (24 h).

Output folders: ``out`` given: ``out`` itself for one deployment asked by ``model``, else
``out/<env>/<model>/``; without it ``<SLIPWAY_MONITOR_DIR>/runs/<env>/<model>/<UTC time>/``.
Each holds ``run_monitor``'s files; its ``summary.json`` is the deployment's whole result
(:meth:`DeploymentResult.to_json`: the library's summary plus deployment and freshness).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from foundation.errors import SlipwayError
from foundation.files import write_json_atomic
from foundation.settings import load_settings
from slipway.monitor.deployments import MonitoredDeployment, select_deployments
from slipway.monitor.ground_truth_s3 import download_labels, upload_labels
from slipway.monitor.labels import IngestResult, ingest_labels
from slipway.monitor.run import (
    DeploymentResult,
    MonitorRun,
    RunRequest,
    default_window,
    monitor_deployment,
)
from slipway.monitor.settings import MonitorSettings

if TYPE_CHECKING:
    from feature_store.freshness import FreshnessReport
    from model_deploy.service import Deployer


def window_of(
    deployment: MonitoredDeployment, *, since: str | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """``[since, until)`` of one deployment's run.

    Raises:
        TimeFormatError: ``since`` is neither a duration nor an ISO 8601 time.
        MonitorRunError: The window is empty or inverted.
    """
    from foundation.times import TimeFormatError, parse_duration, parse_time
    from slipway.monitor.errors import MonitorRunError

    end = until or now
    if since is None:
        start = end - default_window(deployment)
    else:
        try:
            start = end - parse_duration(since, option="--since")
        except TimeFormatError:
            try:
                parsed = parse_time(since, option="--since")
            except TimeFormatError:
                raise TimeFormatError(
                    f"--since: not a duration (24h, 7d) nor an ISO 8601 time: {since!r}"
                ) from None
            assert parsed is not None  # since is a string
            start = parsed
    if start >= end:
        raise MonitorRunError(f"--since ({start.isoformat()}) must be before --until ({end})")
    return start, end


def monitor_run(
    *,
    env: str,
    model: str | None = None,
    since: str | None = None,
    until: datetime | None = None,
    out: Path | None = None,
    baseline_dir: Path | None = None,
    deployer: Deployer | None = None,
    settings: MonitorSettings | None = None,
    now: datetime | None = None,
) -> MonitorRun:
    """Monitor every deployment of ``env`` (or ``model``'s); see the module's docstring.

    With several deployments, one whose run fails (an error below) is a ``Failed`` result
    naming the error (:attr:`DeploymentResult.error`) and the others still run; with one
    (``model``, or ``ENV/MODEL``) the error is raised.

    Raises:
        ManifestError: Unknown environment or model, or an invalid manifest.
        RegistryLookupError: A version monitored is not registered.
        NoBaselineError: A version monitored has no baseline.
        MonitorRunError: A capture or baseline cannot be read, or the window is empty.
        TimeFormatError: ``since`` does not parse.
        SettingsError: A ``SLIPWAY_*`` variable is invalid.
    """
    from model_deploy.service import Deployer

    deployer = deployer or Deployer()
    settings = settings or load_settings(MonitorSettings)
    moment = now or datetime.now(UTC)
    deployments = select_deployments(deployer, env, model=model)
    single = model is not None or "/" in env
    stamp = f"{moment:%Y%m%dT%H%M%SZ}"
    clients = None
    labels_s3 = settings.monitor_ground_truth_s3
    if labels_s3 or any(d.capture.kind == "s3" for d in deployments):
        from foundation.aws import boto3_clients

        clients = boto3_clients(
            region=deployer.settings.aws_region, endpoint_url=deployer.settings.aws_endpoint_url
        )
    freshness, problem = _freshness(moment)
    results = []
    for deployment in deployments:
        start, end = window_of(deployment, since=since, until=until, now=moment)
        if out is not None:
            folder = out if single else out / deployment.env / deployment.model
        else:
            folder = settings.runs_dir / deployment.env / deployment.model / stamp
        service = deployment.ref.feature_service if deployment.ref else None
        mine = _views_of(freshness, service)
        try:
            with tempfile.TemporaryDirectory(prefix="slipway-labels-") as tmp:
                labels_root = settings.ground_truth_dir
                if labels_s3 and clients is not None:
                    labels_root = Path(tmp)
                    download_labels(
                        prefix=labels_s3, endpoint=deployment.endpoint, root=labels_root,
                        clients=clients, since=start,
                    )  # fmt: skip
                request = RunRequest(
                    since=start, until=end, out_dir=folder, labels_root=labels_root,
                    baseline_dir=baseline_dir, clients=clients, workers=settings.monitor_workers,
                )  # fmt: skip
                item = monitor_deployment(
                    deployer, deployment, request=request, freshness=mine,
                    freshness_warning=problem,
                )  # fmt: skip
        except SlipwayError as exc:
            if single:
                raise
            line = " ".join(str(exc).split())
            item = DeploymentResult(
                deployment, start, end, None, mine, failure_reason=f"error: {line}", error=line
            )
        summary = item.result.files.get("summary") if item.result is not None else None
        if summary is not None:  # the library's summary, plus the deployment and freshness
            write_json_atomic(summary, item.to_json())
        results.append(item)
    return MonitorRun(tuple(results), single=single)


def _freshness(now: datetime) -> tuple[FreshnessReport | None, str | None]:
    """Every view's freshness in the configured feature repo, or why it was not checked."""
    from feature_store.errors import FeatureStoreError
    from feature_store.freshness import read_freshness
    from feature_store.repo import FeatureRepo

    try:
        return read_freshness(repo=FeatureRepo.from_settings(), now=now), None
    except FeatureStoreError as exc:
        return None, f"feature freshness not checked: {exc}"


def _views_of(report: FreshnessReport | None, service: str | None) -> FreshnessReport | None:
    """Only the views of ``service`` (all views when it is unknown to the report)."""
    if report is None or service is None or service not in report.services:
        return report
    wanted = set(report.services[service])
    return replace(report, views=tuple(v for v in report.views if v.view in wanted))


def labels_ingest(
    *,
    env: str,
    model: str,
    file: Path,
    deployer: Deployer | None = None,
    settings: MonitorSettings | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Ingest a label file for one deployment (``env`` with ``model``).

    With ``SLIPWAY_MONITOR_GROUND_TRUTH_S3`` the endpoint's labels are read from S3 (for
    idempotence) and the new file is uploaded there (``uploaded``; ``path`` is then relative).

    Raises:
        ManifestError: Unknown environment or model.
        LabelFileError: The file is unreadable or has malformed lines (nothing written).
        MonitorRunError: The S3 prefix cannot be read or written.
    """
    from model_deploy.service import Deployer

    deployer = deployer or Deployer()
    settings = settings or load_settings(MonitorSettings)
    found = select_deployments(deployer, env, model=model)
    if len(found) != 1:
        from slipway.monitor.errors import MonitorRunError

        keys = ", ".join(d.key for d in found)
        raise MonitorRunError(f"{env} --model {model} means several deployments ({keys})")
    deployment = found[0]
    moment = now or datetime.now(UTC)
    prefix = settings.monitor_ground_truth_s3
    if prefix is None:
        return ingest_labels(
            file=file, root=settings.ground_truth_dir, endpoint=deployment.endpoint, now=moment
        )
    from foundation.aws import boto3_clients

    clients = boto3_clients(
        region=deployer.settings.aws_region, endpoint_url=deployer.settings.aws_endpoint_url
    )
    with tempfile.TemporaryDirectory(prefix="slipway-labels-") as tmp:
        root = Path(tmp)
        download_labels(prefix=prefix, endpoint=deployment.endpoint, root=root, clients=clients)
        result = ingest_labels(file=file, root=root, endpoint=deployment.endpoint, now=moment)
        if result.path is None:
            return result
        uri = upload_labels(path=result.path, root=root, prefix=prefix, clients=clients)
        return replace(result, path=Path(result.path.relative_to(root)), uploaded=uri)
