"""Differential testing against Feast: random valid requests and order-insensitive comparison.

Feast's own server and SDK are the oracles of the feature server's answers; these helpers
generate requests from a registry snapshot and compare responses column by column.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services.feature_server.plan import plan_for
from services.feature_server.registry import Snapshot


def random_requests(
    snapshot: Snapshot,
    *,
    seed: int,
    count: int,
    keys: Mapping[str, Sequence[object]],
    request_values: Mapping[str, Callable[[random.Random], object]],
) -> list[dict[str, Any]]:
    """``count`` valid ``/get-online-features`` bodies from a registry snapshot.

    Feature lists draw from every view and on-demand view (without name collisions unless
    full names are on), feature services from the registry; entity columns come from ``keys``
    (candidate values per join key: mix present and missing ones) and request-time columns
    from ``request_values`` (a generator per field). The same seed gives the same requests.
    """
    rng = random.Random(seed)
    refs = [f"{v.name}:{f}" for v in snapshot.views.values() for f in v.features]
    refs += [f"{o.name}:{f}" for o in snapshot.odfvs.values() for f in o.features]
    services = sorted(snapshot.services)
    bodies: list[dict[str, Any]] = []
    while len(bodies) < count:
        full = rng.random() < 0.4
        body: dict[str, Any] = {"full_feature_names": full}
        if services and rng.random() < 0.3:
            body["feature_service"] = rng.choice(services)
        else:
            chosen = rng.sample(refs, rng.randint(1, 6))
            if not full:
                by_feature: dict[str, str] = {}
                for ref in chosen:
                    by_feature.setdefault(ref.split(":")[1], ref)
                chosen = _avoid_feast_odfv_bugs(snapshot, list(by_feature.values()))
            body["features"] = chosen
        plan = plan_for(
            snapshot,
            features=tuple(body.get("features", ())) or None,
            service=body.get("feature_service"),
            full_feature_names=full,
        )
        rows = rng.randint(1, 6)
        columns = list(plan.required)
        if rng.random() < 0.3:  # a known join key the request does not need is echoed back
            columns += [k for k in keys if k not in columns][:1]
        entities = {c: [rng.choice(keys[c]) for _ in range(rows)] for c in columns}
        for name in plan.request_fields:
            entities[name] = [request_values[name](rng) for _ in range(rows)]
        body["entities"] = entities
        bodies.append(body)
    return bodies


def _avoid_feast_odfv_bugs(snapshot: Snapshot, refs: list[str]) -> list[str]:
    """Drop refs that trip Feast 0.67 when an on-demand view is requested with short names.

    A feature of another view named like an on-demand view's input is removed from the UDF's
    input (KeyError, 500) or shows up twice in Feast's response. This service answers those
    requests correctly, so they cannot be compared; ``test_feature_server`` covers them.
    """
    inputs: set[str] = set()
    sources: set[str] = set()
    for ref in refs:
        odfv = snapshot.odfvs.get(ref.split(":")[0])
        if odfv is not None:
            for source, features in odfv.sources:
                sources.add(source)
                inputs.update(features)
    return [
        r
        for r in refs
        if r.split(":")[0] in sources
        or r.split(":")[0] in snapshot.odfvs
        or r.split(":")[1] not in inputs
    ]


def by_name(response: Mapping[str, Any]) -> dict[str, Any]:
    """Map column name to its result (values, statuses, event_timestamps)."""
    names = response["metadata"]["feature_names"]
    return dict(zip(names, response["results"], strict=True))


def odfv_columns(snapshot: Snapshot) -> set[str]:
    """Every response column an on-demand view can produce, short and full names.

    Feast's server drops python on-demand outputs under full names, so these are the columns
    this service may answer that Feast does not.
    """
    return {
        column
        for odfv in snapshot.odfvs.values()
        for feature in odfv.features
        for column in (feature, f"{odfv.name}__{feature}")
    }


def column_groups(snapshot: Snapshot, body: Mapping[str, Any]) -> dict[str, str]:
    """Column name to the view it belongs to (``""`` for join keys), from our plan."""
    plan = plan_for(
        snapshot,
        features=tuple(body.get("features", ())) or None,
        service=body.get("feature_service"),
        full_feature_names=bool(body.get("full_feature_names")),
    )
    groups = {column: read.name for read in plan.views for _, column in read.outputs}
    groups.update({column: o.odfv.name for o in plan.odfvs for _, column in o.outputs})
    return groups


def same_value(ours: object, theirs: object) -> bool:
    """Strict equality (same type); NaN equals NaN, Feast's JSON float strings equal floats."""
    specials = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    a = specials.get(ours, ours) if isinstance(ours, str) else ours
    b = specials.get(theirs, theirs) if isinstance(theirs, str) else theirs
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b
