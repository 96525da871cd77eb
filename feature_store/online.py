"""Online feature reads through the Feast SDK (the reference path; the HTTP service has its own)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from feature_store.errors import FeastOperationError
from feature_store.store_errors import store_errors

if TYPE_CHECKING:
    from feature_store.repo import FeatureRepo


def read_online(
    *,
    repo: FeatureRepo,
    entities: Mapping[str, Sequence[Any]],
    feature_service: str | None = None,
    features: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Read online feature values for a batch of entity rows.

    Args:
        repo: The feature repo (applied and materialized).
        entities: Column-oriented entity keys (and request-time values for on-demand views),
            e.g. ``{"driver_id": [1001, 1002]}``.
        features: ``view:feature`` references; used when no feature service is given.

    Returns:
        One dict per entity row: the entity keys, then each feature value (None when missing).

    Raises:
        FeastOperationError: Unknown feature service or feature, mismatched entity columns, or a
            store failure (e.g. the Redis node holding a key is down); one line.
    """
    if not entities:
        raise FeastOperationError("no entities given")
    lengths = {len(v) for v in entities.values()}
    if len(lengths) != 1:
        raise FeastOperationError("every entity column must have the same number of values")
    if (feature_service is None) == (not features):
        raise FeastOperationError("give either a feature service or a list of features")
    store = repo.open_store()
    try:
        refs: Any = store.get_feature_service(feature_service) if feature_service else features
        columns = list(entities.values())
        rows = [dict(zip(entities, values, strict=True)) for values in zip(*columns, strict=True)]
        result = store.get_online_features(features=refs, entity_rows=rows).to_dict()
    except store_errors() as exc:
        raise FeastOperationError(f"online read failed: {type(exc).__name__}: {exc}") from exc
    n = lengths.pop()
    return [{name: values[i] for name, values in result.items()} for i in range(n)]
