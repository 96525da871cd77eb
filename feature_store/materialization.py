"""Gated materialization: validate every source, then write to the online store if all pass."""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feature_store.errors import FeastOperationError
from feature_store.spark.session import config_uses_spark, session_for
from feature_store.store_errors import store_errors

if TYPE_CHECKING:
    from feature_store.gate import SourceReport
    from feature_store.gate.engines import GateEngine
    from feature_store.repo import FeatureRepo


@dataclass(frozen=True)
class MaterializeResult:
    """What a materialization wrote.

    Attributes:
        views: Feature views materialized.
        sources: Data sources validated before writing.
        start: Window start, or None for an incremental run (from each view's last run).
        end: Window end.
        reports: Data gate reports, one per source.
        seconds: Wall time including validation.
        validate_seconds: Part of ``seconds`` spent in the data gate.
    """

    views: list[str]
    sources: list[str]
    start: datetime | None
    end: datetime
    reports: list[SourceReport] = field(default_factory=list)
    seconds: float = 0.0
    validate_seconds: float = 0.0


def materialize(
    *,
    repo: FeatureRepo,
    end: datetime | None = None,
    start: datetime | None = None,
    views: list[str] | None = None,
    validate: bool = True,
    now: datetime | None = None,
) -> MaterializeResult:
    """Load feature values from the offline sources into the online store, behind the data gate.

    Every source behind the selected views is validated against its expectation suite before
    anything is written (on Spark DataFrames when the store configuration uses Spark). If any
    suite fails, nothing is written and ``ValidationFailedError`` names the failing
    expectations.

    Args:
        repo: The feature repo (must have been applied).
        end: Window end; defaults to now.
        start: Window start; when omitted the run is incremental (Feast's
            ``materialize_incremental``: from the last materialized end, or ``end - ttl``).
        views: Feature view names; all online views with a batch source when omitted.
        validate: Run the data gate first (turning it off is for benchmarks only).
        now: Clock for freshness checks; defaults to the current time.

    Returns:
        A summary of what was validated and written.

    Raises:
        ValidationFailedError: A source failed its suite; nothing was written.
        FeastOperationError: Unknown view, unapplied repo, or Feast failed to write.
    """
    from feature_store.gate import ensure_valid, validate_sources

    started = time.perf_counter()
    end = _utc(end or datetime.now(UTC))
    start = _utc(start) if start is not None else None
    if start is not None and start >= end:
        raise FeastOperationError(f"materialize window is empty: start {start} >= end {end}")
    store = repo.open_store()
    selected = _select_views(store, views, repo)
    sources = sorted({fv.batch_source.name for fv in selected})
    reports: list[SourceReport] = []
    spark = config_uses_spark(repo.config)
    if spark:
        session_for(repo.config)  # before Feast starts one without Slipway's settings
    validate_started = time.perf_counter()
    if validate:
        engine: GateEngine = "spark" if spark else "pandas"
        reports = validate_sources(repo_path=repo.path, sources=sources, now=now, engine=engine)
        ensure_valid(reports)
    validate_seconds = time.perf_counter() - validate_started
    names = [fv.name for fv in selected]
    try:
        # Feast prints its own progress (with terminal colour codes) on stdout; the result
        # returned here says what was written, and stdout stays clean for --format json.
        with contextlib.redirect_stdout(io.StringIO()):
            if start is None:
                store.materialize_incremental(end_date=end, feature_views=names)
            else:
                store.materialize(start_date=start, end_date=end, feature_views=names)
    except store_errors() as exc:
        detail = " ".join(str(exc).split())[:300]
        raise FeastOperationError(
            f"{repo.path}: materialization failed: {type(exc).__name__}: {detail}"
        ) from exc
    return MaterializeResult(
        views=names,
        sources=sources,
        start=start,
        end=end,
        reports=reports,
        seconds=time.perf_counter() - started,
        validate_seconds=validate_seconds,
    )


def _select_views(store: Any, views: list[str] | None, repo: FeatureRepo) -> list[Any]:
    try:
        registered = {fv.name: fv for fv in store.list_feature_views()}
    except (ValueError, RuntimeError, OSError) as exc:
        raise FeastOperationError(f"{repo.path}: cannot read the registry: {exc}") from exc
    if not registered:
        raise FeastOperationError(
            f"{repo.path}: the registry has no feature views; run `slipway features apply` first"
        )
    if views:
        unknown = sorted(set(views) - set(registered))
        if unknown:
            raise FeastOperationError(
                f"unknown feature view(s): {', '.join(unknown)} "
                f"(known: {', '.join(sorted(registered))})"
            )
        chosen = [registered[name] for name in views]
    else:
        chosen = [registered[name] for name in sorted(registered)]
    return [fv for fv in chosen if fv.online and fv.batch_source is not None]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
