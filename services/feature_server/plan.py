"""Resolve a request's features (or feature service) into a read plan, as Feast groups them.

Resolution follows ``feast.utils._get_online_request_context``: feature views appear in the
order of their first reference (an on-demand view's sources join at its position), on-demand
outputs come last, and name collisions are refused. Within one view, features keep the order of
the request (Feast uses a set there, so its order varies between processes). Plans are cached
per registry snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from feast.value_type import ValueType

from services.feature_server.errors import ApiError, NotFoundError, ValidationError
from services.feature_server.registry import OdfvSpec, Snapshot, ViewSpec

_PLAN_CACHE_LIMIT: Final = 4096
_VERSION: Final = re.compile(r"^[vV]\d+$")


@dataclass(frozen=True, slots=True)
class ViewRead:
    """One feature view to read.

    Attributes:
        view: The view.
        name: Name used for full feature names (projection alias or view name).
        features: Features to read (requested ones, then inputs of on-demand views).
        outputs: ``(feature, response column)`` pairs shown in the response, in order.
        columns: Request column per join key, in ``view.key_order``.
        shown: The features of ``outputs``, in order (one tuple object per plan, so rows can
            keep their picked values for it).
    """

    view: ViewSpec
    name: str
    features: tuple[str, ...]
    outputs: tuple[tuple[str, str], ...]
    columns: tuple[str, ...]
    shown: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OdfvRead:
    """One on-demand view to evaluate.

    Attributes:
        odfv: The view.
        outputs: ``(feature, response column)`` pairs, in order.
    """

    odfv: OdfvSpec
    outputs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """Everything fixed about a request once its features are known.

    Attributes:
        service: Feature service name, or None for a feature list.
        views: Views to read, in response order.
        odfvs: On-demand views to evaluate, in response order.
        request_fields: Request-time inputs needed, with their types.
        required: Request column to the view that needs it, for every join key column.
        full_feature_names: Whether response columns are ``view__feature``.
    """

    service: str | None
    views: tuple[ViewRead, ...]
    odfvs: tuple[OdfvRead, ...]
    request_fields: dict[str, ValueType]
    required: dict[str, str]
    full_feature_names: bool


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``view:feature`` the way Feast does (``view@latest:feature`` is the same view).

    Returns:
        ``(view name, feature name)``.

    Raises:
        ValidationError: Not a ``view:feature`` reference, or a pinned version.
    """
    view, sep, feature = ref.partition(":")
    if not sep or not view or not feature:
        raise ValidationError(f"feature reference {ref!r} must look like 'view:feature'")
    name, at, version = view.partition("@")
    if at:
        if version == "" or version.lower() == "latest":
            return name, feature
        if _VERSION.match(version):
            raise ValidationError(
                f"feature reference {ref!r} pins a version; versioned reads are not served"
            )
    return view, feature


def plan_for(
    snapshot: Snapshot,
    *,
    features: tuple[str, ...] | None,
    service: str | None,
    full_feature_names: bool,
) -> ReadPlan:
    """Return the (cached) plan for a feature list or a feature service.

    ``features`` (``view:feature`` references) are used when ``service`` is None;
    ``full_feature_names`` makes the response columns ``view__feature``.

    Raises:
        ApiError: Unknown service, view or feature (404), or an invalid list (422).
    """
    key = (service, features, full_feature_names)
    plan = snapshot.plans.get(key)
    if plan is None:
        plan = _resolve(snapshot, features=features, service=service, full=full_feature_names)
        if len(snapshot.plans) >= _PLAN_CACHE_LIMIT:
            snapshot.plans.clear()
        snapshot.plans[key] = plan
    return plan


@dataclass(slots=True)
class _Group:
    view: ViewSpec
    name: str
    join_key_map: dict[str, str]
    read: list[str]
    outputs: list[tuple[str, str]]


def _resolve(
    snapshot: Snapshot, *, features: tuple[str, ...] | None, service: str | None, full: bool
) -> ReadPlan:
    # (projection name, view name, feature, join key map) in Feast's reference order.
    refs: list[tuple[str, str, str, dict[str, str]]] = []
    if service is not None:
        spec = snapshot.services.get(service)
        if spec is None:
            raise NotFoundError(
                f"feature service {service!r} not found",
                code="unknown_service",
                feast_class="FeatureServiceNotFoundException",
            )
        for p in spec.projections:
            refs.extend((p.name, p.view, f, p.join_key_map) for f in p.features)
    else:
        if not features:
            raise ValidationError("give 'features' (view:feature references) or 'feature_service'")
        for ref in features:
            view, feature = parse_ref(ref)
            refs.append((view, view, feature, {}))
    _check_collisions([(name, feature) for name, _, feature, _ in refs], full)

    groups: dict[str, _Group] = {}
    odfv_outputs: dict[str, tuple[OdfvSpec, list[tuple[str, str]]]] = {}

    def group(name: str, view: ViewSpec, join_key_map: dict[str, str]) -> _Group:
        if view.unservable is not None:
            status, message = view.unservable
            raise ApiError(message, status=status, code="view_unavailable")
        found = groups.get(name)
        if found is None:
            found = groups[name] = _Group(view, name, join_key_map, [], [])
        return found

    for name, view_name, feature, join_key_map in refs:
        column = f"{name}__{feature}" if full else feature
        view_spec = snapshot.views.get(view_name)
        if view_spec is not None:
            if feature not in view_spec.feature_types:
                raise NotFoundError(
                    f"feature {feature!r} not found in feature view {view_name!r}",
                    code="unknown_feature",
                )
            g = group(name, view_spec, join_key_map)
            if feature not in g.read:
                g.read.append(feature)
            g.outputs.append((feature, column))
            continue
        odfv = snapshot.odfvs.get(view_name)
        if odfv is None:
            raise NotFoundError(
                f"feature view {view_name!r} not found",
                code="unknown_feature_view",
                feast_class="FeatureViewNotFoundException",
            )
        if feature not in odfv.feature_types:
            raise NotFoundError(
                f"feature {feature!r} not found in on-demand feature view {view_name!r}",
                code="unknown_feature",
            )
        _check_odfv(odfv)
        odfv_outputs.setdefault(name, (odfv, []))[1].append((feature, column))
        for source, source_features in odfv.sources:
            source_view = snapshot.views.get(source)
            if source_view is None:
                raise NotFoundError(
                    f"feature view {source!r} (input of {odfv.name!r}) not found",
                    code="unknown_feature_view",
                    feast_class="FeatureViewNotFoundException",
                )
            g = group(source, source_view, {})
            g.read.extend(f for f in source_features if f not in g.read)

    views = tuple(
        ViewRead(
            view=g.view,
            name=g.name,
            features=tuple(g.read),
            outputs=tuple(g.outputs),
            columns=tuple(g.join_key_map.get(k, k) for k in g.view.key_order),
            shown=tuple(feature for feature, _ in g.outputs),
        )
        for g in groups.values()
    )
    required: dict[str, str] = {}
    for read in views:
        if not read.view.entityless:
            for column in read.columns:
                required.setdefault(column, read.view.name)
    request_fields: dict[str, ValueType] = {}
    for odfv, _ in odfv_outputs.values():
        request_fields.update(odfv.request_fields)
    return ReadPlan(
        service=service,
        views=views,
        odfvs=tuple(OdfvRead(odfv, tuple(outs)) for odfv, outs in odfv_outputs.values()),
        request_fields=request_fields,
        required=required,
        full_feature_names=full,
    )


def _check_odfv(odfv: OdfvSpec) -> None:
    if odfv.mode != "python":
        raise ValidationError(
            f"on-demand feature view {odfv.name!r} uses mode {odfv.mode!r}; "
            "this service evaluates mode 'python' only",
            code="unsupported_view",
        )
    if getattr(odfv.view, "write_to_online_store", False) or getattr(
        odfv.view, "aggregations", None
    ):
        raise ValidationError(
            f"on-demand feature view {odfv.name!r} writes to the online store or aggregates; "
            "this service does not serve such views",
            code="unsupported_view",
        )


def _check_collisions(refs: list[tuple[str, str]], full: bool) -> None:
    seen: set[str] = set()
    duplicates: list[str] = []
    for name, feature in refs:
        column = f"{name}__{feature}" if full else feature
        if column in seen and column not in duplicates:
            duplicates.append(column)
        seen.add(column)
    if duplicates:
        hint = "" if full else "; set full_feature_names to true to keep both"
        raise ValidationError(
            f"feature name(s) requested twice: {', '.join(duplicates)}{hint}",
            code="feature_collision",
            feast_class="FeatureNameCollisionError",
        )
