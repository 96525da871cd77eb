"""Page 4: feature views and services, their online freshness, materializations and validations.

Read from the Feast registry of the feature repo the CLI uses (``SLIPWAY_FEATURE_REPO``,
``SLIPWAY_FEATURE_ENV``), kept between requests until the registry file changes (Feast is
imported on the first visit only). A view's freshness is the age of its newest online value:
``MAX(event_ts)`` of its SQLite table on the embedded store, else the end of its last
materialization interval (stores without a cheap "newest" query). The data gate's results are
the ``<source>.json`` files of the validation reports folder, with a link to the Data Docs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feature_store.errors import FeatureStoreError
from feature_store.repo import FeatureRepo


@dataclass(frozen=True)
class ViewInfo:
    """One feature view.

    Attributes:
        name: The view.
        entities: Its entities.
        features: Its feature names.
        source: Its batch source.
        online: Whether it is served online.
        ttl_seconds: Its TTL, if it has one.
        materialized_until: End of its newest materialization interval.
        newest: Newest event time of its online values (SQLite store), if known.
    """

    name: str
    entities: list[str]
    features: list[str]
    source: str
    online: bool
    ttl_seconds: float | None
    materialized_until: datetime | None
    newest: datetime | None

    def age_seconds(self, now: datetime) -> float | None:
        """Seconds since the newest online value (or the last materialization's end)."""
        moment = self.newest or self.materialized_until
        return (now - moment).total_seconds() if moment else None

    def freshness(self, now: datetime) -> str:
        """``fresh`` (within its TTL or without one), ``stale`` or ``never`` materialized."""
        age = self.age_seconds(now)
        if age is None:
            return "never"
        return "stale" if self.ttl_seconds and age > self.ttl_seconds else "fresh"


@dataclass(frozen=True)
class ServiceInfo:
    """One feature service and the views it reads."""

    name: str
    views: list[str]


@dataclass(frozen=True)
class Validation:
    """The data gate's last verdict on one source (``<reports_dir>/<source>.json``)."""

    source: str
    gate_passed: bool
    passed: int
    evaluated: int
    row_count: int | None
    at: str | None


@dataclass(frozen=True)
class FeatureSummary:
    """Everything the features page shows; ``error`` says why the registry could not be read."""

    repo: str
    views: list[ViewInfo] = field(default_factory=list)
    services: list[ServiceInfo] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    data_docs: bool = False
    error: str | None = None


class FeatureReader:
    """Reads the feature registry, keeping the answer until its file changes."""

    def __init__(self, repo: FeatureRepo, *, reports_dir: Path) -> None:
        self.repo = repo
        self.reports_dir = Path(reports_dir)
        self._lock = threading.Lock()
        self._cached: tuple[Any, tuple[list[ViewInfo], list[ServiceInfo]]] | None = None

    def summary(self) -> FeatureSummary:
        """The views, services and validation results (a registry failure becomes ``error``)."""
        validations = self._validations()
        docs = (self.reports_dir / "data_docs" / "index.html").is_file()
        try:
            views, services = self._registry()
        except FeatureStoreError as exc:
            return FeatureSummary(
                repo=str(self.repo.path),
                validations=validations,
                data_docs=docs,
                error=str(exc),
            )
        return FeatureSummary(
            repo=str(self.repo.path),
            views=views,
            services=services,
            validations=validations,
            data_docs=docs,
        )

    def _registry(self) -> tuple[list[ViewInfo], list[ServiceInfo]]:
        config = self.repo.config
        registry = config.registry
        path = getattr(registry, "path", registry)
        registry_file = Path(str(path))
        if not registry_file.is_absolute():
            registry_file = self.repo.path / registry_file
        try:
            stat = registry_file.stat()
        except OSError as exc:
            raise FeatureStoreError(
                f"no feature registry at {registry_file}: run `slipway features apply`"
            ) from exc
        signature = (stat.st_mtime_ns, stat.st_size, self._online_signature(config))
        with self._lock:
            if self._cached is not None and self._cached[0] == signature:
                return self._cached[1]
        answer = self._read(config)
        with self._lock:
            self._cached = (signature, answer)
        return answer

    def _online_path(self, config: Any) -> Path | None:
        online = config.online_store
        if getattr(online, "type", "") != "sqlite":
            return None
        path = Path(str(online.path))
        return path if path.is_absolute() else self.repo.path / path

    def _online_signature(self, config: Any) -> tuple[int, int] | None:
        path = self._online_path(config)
        try:
            stat = path.stat() if path is not None else None
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size) if stat else None

    def _read(self, config: Any) -> tuple[list[ViewInfo], list[ServiceInfo]]:
        store = self.repo.open_store()
        try:
            feature_views = store.list_feature_views()
            feature_services = store.list_feature_services()
        except (OSError, ValueError, RuntimeError) as exc:
            raise FeatureStoreError(f"cannot read the feature registry: {exc}") from exc
        newest = self._newest(config, [fv.name for fv in feature_views])
        views = []
        for fv in sorted(feature_views, key=lambda v: v.name):
            ends = [end for _, end in getattr(fv, "materialization_intervals", None) or ()]
            views.append(
                ViewInfo(
                    name=fv.name,
                    entities=[str(e) for e in fv.entities],
                    features=[f.name for f in fv.features],
                    source=getattr(getattr(fv, "batch_source", None), "name", "") or "",
                    online=bool(fv.online),
                    ttl_seconds=fv.ttl.total_seconds() if fv.ttl else None,
                    materialized_until=_utc(max(ends)) if ends else None,
                    newest=newest.get(fv.name),
                )
            )
        services = [
            ServiceInfo(name=s.name, views=[p.name for p in s.feature_view_projections])
            for s in sorted(feature_services, key=lambda s: s.name)
        ]
        return views, services

    def _newest(self, config: Any, names: list[str]) -> dict[str, datetime]:
        """Newest ``event_ts`` per view of the SQLite online store (read-only connection)."""
        path = self._online_path(config)
        if path is None or not path.is_file():
            return {}
        found: dict[str, datetime] = {}
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
                for name in names:
                    table = f"{config.project}_{name}"
                    if table not in tables:
                        continue
                    row = db.execute(f'SELECT MAX(event_ts) FROM "{table}"').fetchone()  # noqa: S608
                    if row and row[0] is not None:
                        found[name] = _moment(row[0])
        except (sqlite3.Error, ValueError) as exc:
            raise FeatureStoreError(f"cannot read the online store {path.name}: {exc}") from exc
        return found

    def _validations(self) -> list[Validation]:
        found = []
        for path in sorted(self.reports_dir.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(doc, dict):
                continue
            meta = (doc.get("meta") or {}).get("slipway") or {}
            stats = doc.get("statistics") or {}
            found.append(
                Validation(
                    source=str(meta.get("source") or path.stem),
                    gate_passed=bool(meta.get("gate_passed", doc.get("success"))),
                    passed=int(stats.get("successful_expectations") or 0),
                    evaluated=int(stats.get("evaluated_expectations") or 0),
                    row_count=meta.get("row_count"),
                    at=meta.get("now"),
                )
            )
        return found


def _moment(value: object) -> datetime:
    """An ``event_ts`` cell: epoch seconds (Feast's SQLite store) or an ISO text."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    return _utc(datetime.fromisoformat(str(value)))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def now_utc() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)
