"""Online freshness per feature view: how old the newest online value is, against the view's TTL.

The newest event timestamp of a view comes from the online store when it can say cheaply
(SQLite: ``MAX(event_ts)`` of the view's table, so pushes count too; source ``store``), else
from the registry: the end of the view's last materialization interval (Redis, Redis Cluster,
DynamoDB; source ``materialization``). A view with neither has no age (``source`` None) and a
warning says so. A view is **stale** when its age is above its TTL; a view without a TTL is
never stale. This is what ``services.feature_server`` exports on ``/metrics``, computed once
for a monitoring run (:func:`read_freshness`) instead of on a timer.

:func:`freshness_of` is the pure part (views, newest timestamps, the time now), so it is
tested without Feast; :func:`read_freshness` reads a repo through Feast (every view, and which
views each feature service reads, so a caller can narrow to one model's views).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from feature_store.errors import FeastOperationError

if TYPE_CHECKING:
    from feature_store.repo import FeatureRepo

Source = Literal["store", "materialization"]


@dataclass(frozen=True)
class ViewInfo:
    """What freshness needs of one feature view.

    Attributes:
        name: The feature view.
        ttl_seconds: Its TTL (None or 0: none).
        materialized_until: End of its last materialization interval, if any.
        table: Its SQLite table name, when the online store is SQLite.
    """

    name: str
    ttl_seconds: float | None
    materialized_until: datetime | None = None
    table: str | None = None


@dataclass(frozen=True)
class ViewFreshness:
    """The newest online value of one view, its age and its TTL.

    Attributes:
        view: The feature view.
        newest: Event time of the newest online value (None: unknown).
        source: Where ``newest`` comes from (``store`` or ``materialization``), None if unknown.
        age_seconds: ``now - newest`` (None when unknown).
        ttl_seconds: The view's TTL (None: no TTL).
    """

    view: str
    newest: datetime | None
    source: Source | None
    age_seconds: float | None
    ttl_seconds: float | None

    @property
    def stale(self) -> bool:
        """Whether the newest value is older than the TTL (never without a TTL or an age)."""
        return (
            self.age_seconds is not None
            and self.ttl_seconds is not None
            and self.age_seconds > self.ttl_seconds
        )

    def to_json(self) -> dict[str, Any]:
        """The view's freshness as a JSON object."""
        return {
            "view": self.view,
            "newest": None if self.newest is None else self.newest.isoformat(),
            "source": self.source,
            "age_seconds": self.age_seconds,
            "ttl_seconds": self.ttl_seconds,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class FreshnessReport:
    """The freshness of every view checked, at one moment.

    Attributes:
        checked_at: The time the ages are measured at.
        views: One entry per view, by name.
        warnings: Views whose age is unknown, and anything that could not be read.
        services: The views of each feature service (by service name).
    """

    checked_at: datetime
    views: tuple[ViewFreshness, ...] = ()
    warnings: tuple[str, ...] = ()
    services: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def stale(self) -> tuple[str, ...]:
        """Names of the stale views."""
        return tuple(v.view for v in self.views if v.stale)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON object."""
        return {
            "checked_at": self.checked_at.isoformat(),
            "views": [v.to_json() for v in self.views],
            "stale": list(self.stale),
            "warnings": list(self.warnings),
        }


def freshness_of(
    views: Iterable[ViewInfo], *, newest: Mapping[str, datetime], now: datetime
) -> FreshnessReport:
    """Age and staleness of each view: ``newest`` (from the store) first, else materialization.

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    found: list[ViewFreshness] = []
    warnings: list[str] = []
    for view in sorted(views, key=lambda v: v.name):
        source: Source | None = None
        stamp = newest.get(view.name)
        if stamp is not None:
            source = "store"
        elif view.materialized_until is not None:
            stamp, source = view.materialized_until, "materialization"
        else:
            warnings.append(f"feature view {view.name}: no online value and never materialized")
        age = None if stamp is None else max(0.0, (now - stamp).total_seconds())
        ttl = view.ttl_seconds if view.ttl_seconds else None
        found.append(ViewFreshness(view.name, stamp, source, age, ttl))
    return FreshnessReport(checked_at=now, views=tuple(found), warnings=tuple(warnings))


def sqlite_newest(*, path: Path, views: Sequence[ViewInfo]) -> dict[str, datetime]:
    """``MAX(event_ts)`` of each view's table in a Feast SQLite online store.

    A missing database, table or empty table leaves the view out.

    Raises:
        FeastOperationError: The database cannot be read.
    """
    if not path.is_file():
        return {}
    found: dict[str, datetime] = {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            for view in views:
                if view.table is None:
                    continue
                table = view.table.replace('"', '""')
                try:
                    row = conn.execute(f'SELECT MAX(event_ts) FROM "{table}"').fetchone()  # noqa: S608
                except sqlite3.OperationalError as exc:
                    if "no such table" in str(exc):
                        continue
                    raise
                if row is not None and row[0] is not None:
                    found[view.name] = _moment(row[0])
    except (sqlite3.Error, ValueError) as exc:
        raise FeastOperationError(f"{path}: cannot read the online store: {exc}") from exc
    return found


def read_freshness(*, repo: FeatureRepo, now: datetime | None = None) -> FreshnessReport:
    """The freshness of every feature view of the repo, and each feature service's views.

    A repo whose registry file does not exist yet (nothing applied) gives no views and a
    warning; nothing is created.

    Raises:
        RepoConfigError: The repo's configuration is invalid.
        FeastOperationError: Feast cannot list the views or the online store cannot be read.
    """
    from feast.errors import FeastError
    from feast.infra.online_stores.helpers import compute_table_id

    moment = now or datetime.now(UTC)
    config = repo.config
    registry = _registry_file(repo, config)
    if registry is not None and not registry.is_file():
        missing = f"{registry} does not exist (nothing applied yet): no feature view checked"
        return FreshnessReport(checked_at=moment, warnings=(missing,))
    store = repo.open_store()
    kind = str(config.online_store.type)
    sqlite = kind == "sqlite" or kind.endswith("SqliteOnlineStore")
    versioning = bool(getattr(config.registry, "enable_online_feature_view_versioning", False))
    try:
        views = store.list_feature_views()
        services = {
            service.name: tuple(p.name for p in service.feature_view_projections)
            for service in store.list_feature_services()
        }
    except (FeastError, OSError, ValueError, RuntimeError) as exc:
        raise FeastOperationError(
            f"{repo.yaml_path}: cannot read the feature views: {type(exc).__name__}: {exc}"
        ) from exc
    infos = [
        ViewInfo(
            name=fv.name,
            ttl_seconds=fv.ttl.total_seconds() if fv.ttl else None,
            materialized_until=_last_interval_end(fv),
            table=compute_table_id(config.project, fv, versioning) if sqlite else None,
        )
        for fv in views
    ]
    newest: dict[str, datetime] = {}
    if sqlite:
        db = Path(str(config.online_store.path))
        newest = sqlite_newest(path=db if db.is_absolute() else repo.path / db, views=infos)
    report = freshness_of(infos, newest=newest, now=moment)
    return FreshnessReport(report.checked_at, report.views, report.warnings, services)


def _registry_file(repo: FeatureRepo, config: Any) -> Path | None:
    """The registry's local file (None for a remote registry: s3://, gs://, sql...)."""
    registry = config.registry
    path = str(getattr(registry, "path", registry) or "")
    if not path or "://" in path or getattr(registry, "registry_type", "file") != "file":
        return None
    file = Path(path)
    return file if file.is_absolute() else repo.path / file


def _last_interval_end(fv: Any) -> datetime | None:
    ends = [end for _, end in getattr(fv, "materialization_intervals", None) or ()]
    if not ends:
        return None
    last: datetime = max(ends)
    return last.replace(tzinfo=UTC) if last.tzinfo is None else last


def _moment(value: Any) -> datetime:
    """An ``event_ts`` cell (epoch seconds or ISO text, naive meaning UTC) as an aware time."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    text = value.decode() if isinstance(value, bytes) else str(value)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
