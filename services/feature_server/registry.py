"""An immutable snapshot of the Feast registry, precomputed for the read path.

The snapshot holds, per feature view, what a read needs (join keys and their types, the
serialized key prefix, feature names and types, the SQLite table and Redis hash names, the TTL);
per on-demand view its sources, request fields and the Feast object whose python UDF is run;
per feature service its projections. ``RegistryWatcher`` rebuilds it in a background thread
and swaps one reference, so a request never waits for the registry.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from feast.feature_view import DUMMY_ENTITY_ID, DUMMY_ENTITY_NAME, FeatureViewState
from feast.infra.online_stores.helpers import compute_table_id, compute_versioned_name
from feast.value_type import ValueType

from services.feature_server.encoding import KEY_ENCODERS, key_prefix, serialization_order

logger = logging.getLogger(__name__)

_SERVABLE_STATES = {FeatureViewState.STATE_UNSPECIFIED, FeatureViewState.AVAILABLE_ONLINE}


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """What the read path needs to know about one feature view.

    Attributes:
        name: Feature view name.
        join_keys: Join keys in declaration order (``__dummy_id`` for an entityless view).
        key_order: Join keys in Feast's serialization order.
        key_types: Declared value type per join key.
        prefix: Serialized join key names (the constant head of every entity key).
        fast_keys: Whether every key type has a fast encoder (else Feast's function is used).
        features: Feature names in schema order.
        feature_types: Value type per feature.
        sqlite_table: ``<project>_<view>`` table of the SQLite online store.
        redis_name: View name used in Redis hash field names.
        ttl_seconds: The view's TTL (informational: Feast does not filter online reads by it).
        unservable: Why the view cannot be served now (None when it can), and the HTTP status.
        entityless: The view has no entity (Feast's dummy entity).
        version: Current version number (0 when versioning is off).
        batch_source: Name of the view's batch source (its expectation suite's name).
        push_source: Name of the push source that feeds it, or None.
        materialized_until: Epoch seconds of the end of its last materialization interval,
            or None when it was never materialized (``services.feature_server.freshness``).
    """

    name: str
    join_keys: tuple[str, ...]
    key_order: tuple[str, ...]
    key_types: dict[str, ValueType]
    prefix: bytes
    fast_keys: bool
    features: tuple[str, ...]
    feature_types: dict[str, ValueType]
    sqlite_table: str
    redis_name: str
    ttl_seconds: float | None
    unservable: tuple[int, str] | None
    entityless: bool
    version: int
    batch_source: str = ""
    push_source: str | None = None
    materialized_until: float | None = None


@dataclass(frozen=True, slots=True)
class OdfvSpec:
    """An on-demand feature view.

    Attributes:
        name: View name.
        features: Output feature names.
        feature_types: Declared output types.
        sources: ``(feature view, features)`` pairs it reads.
        request_fields: Request-time inputs and their types.
        mode: Transformation mode; only ``python`` is evaluated by this service.
        view: The Feast object (its ``transform_dict`` runs the registered UDF).
    """

    name: str
    features: tuple[str, ...]
    feature_types: dict[str, ValueType]
    sources: tuple[tuple[str, tuple[str, ...]], ...]
    request_fields: dict[str, ValueType]
    mode: str
    view: Any


@dataclass(frozen=True, slots=True)
class Projection:
    """One entry of a feature service: a view (or alias of it) and a subset of its features.

    Attributes:
        view: Underlying feature view or on-demand view name.
        name: Name used in feature references and full feature names (alias or view name).
        features: Selected features.
        join_key_map: Join key to request column renames of this projection.
    """

    view: str
    name: str
    features: tuple[str, ...]
    join_key_map: dict[str, str]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A feature service.

    Attributes:
        name: Service name.
        description: Its description.
        projections: Its projections in declaration order.
        refs: ``name:feature`` references in Feast's order.
    """

    name: str
    description: str
    projections: tuple[Projection, ...]
    refs: tuple[str, ...]


@dataclass(slots=True)
class Snapshot:
    """Everything the read path needs, built from one registry version.

    Attributes:
        project: Feast project.
        views: Feature views by name.
        odfvs: On-demand feature views by name.
        services: Feature services by name.
        entity_names: Entity name to join key (Feast also accepts entity names as columns).
        join_keys: Every join key of every entity.
        key_types: Declared type of every join key.
        request_fields: Every request-time field of every on-demand view.
        digest: Hash of the registry contents it was built from.
        built_at: Monotonic time of the build.
        plans: Cache of resolved requests, owned by ``services.feature_server.plan``.
    """

    project: str
    views: dict[str, ViewSpec]
    odfvs: dict[str, OdfvSpec]
    services: dict[str, ServiceSpec]
    entity_names: dict[str, str]
    join_keys: frozenset[str]
    key_types: dict[str, ValueType]
    request_fields: frozenset[str]
    digest: str
    built_at: float = field(default_factory=time.monotonic)
    plans: dict[Any, Any] = field(default_factory=dict)


def _view_spec(fv: Any, *, project: str, config: Any) -> ViewSpec:
    versioning = bool(config.registry.enable_online_feature_view_versioning)
    entityless = not fv.entities or fv.entities[0] == DUMMY_ENTITY_NAME
    if entityless:
        key_types = {DUMMY_ENTITY_ID: ValueType.STRING}
    else:
        key_types = {c.name: c.dtype.to_value_type() for c in fv.entity_columns}
    join_keys = tuple(key_types)
    order = serialization_order(join_keys)
    unservable: tuple[int, str] | None = None
    state = getattr(fv, "state", FeatureViewState.STATE_UNSPECIFIED)
    servable_states = set(_SERVABLE_STATES)
    if getattr(config.registry, "serve_features_while_materializing", False):
        servable_states.add(FeatureViewState.MATERIALIZING)
    if not getattr(fv, "enabled", True):
        unservable = (422, f"feature view {fv.name} is disabled")
    elif not fv.online:
        unservable = (422, f"feature view {fv.name} is not served online (online=False)")
    elif isinstance(state, FeatureViewState) and state not in servable_states:
        unservable = (503, f"feature view {fv.name} is {state.name}; try again shortly")
    ttl = fv.ttl.total_seconds() if fv.ttl else None
    return ViewSpec(
        name=fv.name,
        join_keys=join_keys,
        key_order=order,
        key_types=key_types,
        prefix=key_prefix(order),
        fast_keys=config.entity_key_serialization_version == 3
        and all(t in KEY_ENCODERS for t in key_types.values()),
        features=tuple(f.name for f in fv.features),
        feature_types={f.name: f.dtype.to_value_type() for f in fv.features},
        sqlite_table=compute_table_id(project, fv, versioning),
        redis_name=compute_versioned_name(fv, versioning),
        ttl_seconds=ttl if ttl else None,
        unservable=unservable,
        entityless=entityless,
        version=int(getattr(fv, "current_version_number", 0) or 0),
        batch_source=getattr(getattr(fv, "batch_source", None), "name", "") or "",
        push_source=_push_source(fv),
        materialized_until=_materialized_until(fv),
    )


def _materialized_until(fv: Any) -> float | None:
    ends = [end for _, end in getattr(fv, "materialization_intervals", None) or ()]
    return max(ends).timestamp() if ends else None


def _push_source(fv: Any) -> str | None:
    from feast.data_source import PushSource

    stream = getattr(fv, "stream_source", None)
    return stream.name if isinstance(stream, PushSource) else None


def _odfv_spec(odfv: Any) -> OdfvSpec:
    return OdfvSpec(
        name=odfv.name,
        features=tuple(f.name for f in odfv.features),
        feature_types={f.name: f.dtype.to_value_type() for f in odfv.features},
        sources=tuple(
            (p.name, tuple(f.name for f in p.features))
            for p in odfv.source_feature_view_projections.values()
        ),
        request_fields=dict(odfv.get_request_data_schema()),
        mode=str(odfv.mode),
        view=odfv,
    )


def _service_spec(service: Any) -> ServiceSpec:
    projections = tuple(
        Projection(
            view=p.name,
            name=p.name_alias or p.name,
            features=tuple(f.name for f in p.features),
            join_key_map=dict(p.join_key_map or {}),
        )
        for p in service.feature_view_projections
    )
    refs = tuple(f"{p.name}:{feature}" for p in projections for feature in p.features)
    return ServiceSpec(
        name=service.name,
        description=service.description or "",
        projections=projections,
        refs=refs,
    )


def build_snapshot(store: Any, *, digest: str = "") -> Snapshot:
    """Read the (cached) registry of a Feast store into a snapshot.

    ``store`` is a ``feast.FeatureStore``; ``digest`` (the hash of the registry contents) is
    kept to skip identical rebuilds.
    """
    registry, project, config = store.registry, store.project, store.config
    fvs = {fv.name: fv for fv in registry.list_feature_views(project, allow_cache=True)}
    for sfv in registry.list_stream_feature_views(project, allow_cache=True):
        fvs.setdefault(sfv.name, sfv)
    views = {name: _view_spec(fv, project=project, config=config) for name, fv in fvs.items()}
    odfvs = {
        o.name: _odfv_spec(o)
        for o in registry.list_on_demand_feature_views(project, allow_cache=True)
    }
    services = {
        s.name: _service_spec(s) for s in registry.list_feature_services(project, allow_cache=True)
    }
    entities = registry.list_entities(project, allow_cache=True)
    entity_names = {e.name: e.join_key for e in entities if e.name != DUMMY_ENTITY_NAME}
    join_keys = frozenset(entity_names.values()) | {
        k for v in views.values() if not v.entityless for k in v.join_keys
    }
    key_types = {e.join_key: e.value_type for e in entities if e.name != DUMMY_ENTITY_NAME}
    for v in views.values():
        if not v.entityless:
            key_types.update(v.key_types)
    request_fields = frozenset(f for o in odfvs.values() for f in o.request_fields)
    return Snapshot(
        project=project,
        views=views,
        odfvs=odfvs,
        services=services,
        entity_names=entity_names,
        join_keys=join_keys,
        key_types=key_types,
        request_fields=request_fields,
        digest=digest,
    )


class RegistryWatcher:
    """Keeps a current ``Snapshot`` and rebuilds it in a daemon thread.

    Attributes:
        snapshot: The current snapshot, or None until the registry has loaded once.
        last_error: Why the last refresh failed (class name only), or None.
        last_success: Monotonic time of the last successful refresh.
    """

    def __init__(
        self,
        *,
        store_factory: Callable[[], Any],
        interval: float,
        on_refresh: Callable[[], None] | None = None,
    ) -> None:
        """Create a watcher; nothing is read until ``refresh`` or ``start``.

        ``store_factory`` opens the ``feast.FeatureStore`` (called lazily, retried on
        failure); ``interval`` is the seconds between refreshes; ``on_refresh`` is called after
        every refresh attempt (e.g. to reload API keys).
        """
        self._store_factory = store_factory
        self._store: Any = None
        self._interval = interval
        self._on_refresh = on_refresh
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self.last_error: str | None = None
        self.last_success: float | None = None

    def refresh(self) -> bool:
        """Reload the registry and swap in a new snapshot if it changed.

        Returns:
            True when a snapshot is available afterwards.
        """
        with self._lock:
            try:
                if self._store is None:
                    self._store = self._store_factory()
                store = self._store
                store.refresh_registry()
                digest = hashlib.sha256(store.registry.proto().SerializeToString()).hexdigest()
                current = self.snapshot
                if current is None or current.digest != digest:
                    snapshot = build_snapshot(store, digest=digest)
                    if not snapshot.views:
                        self.last_error = "EmptyRegistry"
                        logger.warning("registry has no feature views yet (not applied?)")
                        return self._finish()
                    self.snapshot = snapshot
                    logger.info(
                        "registry snapshot loaded: %d views, %d services",
                        len(self.snapshot.views),
                        len(self.snapshot.services),
                    )
                self.last_error = None
                self.last_success = time.monotonic()
            # The registry may be missing, half-written or on an unreachable bucket; any
            # failure keeps the previous snapshot and is retried on the next tick.
            except Exception as exc:
                self.last_error = type(exc).__name__
                logger.warning("registry refresh failed: %s", type(exc).__name__, exc_info=True)
            return self._finish()

    @property
    def store(self) -> Any:
        """The ``feast.FeatureStore`` the snapshots are read from (None before the first refresh).

        Writes (push, write-to-online-store, materialize) go through it, as in ``feast serve``.
        """
        return self._store

    def _finish(self) -> bool:
        if self._on_refresh is not None:
            self._on_refresh()
        return self.snapshot is not None

    def start(self) -> None:
        """Start the background refresh thread (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="registry-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread and wait briefly for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval if self.snapshot is not None else 1.0):
            self.refresh()
