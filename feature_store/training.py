"""Point-in-time correct training frames that never lose an entity row.

Feast's file (dask) offline store drops an entity row when its entity has feature rows but none
inside ``[timestamp - ttl, timestamp]`` (the row is filtered out instead of getting nulls). A
training set must keep every labelled row, so this wrapper tags each entity row, asks Feast, and
joins the answer back: rows Feast dropped come back with missing features, in input order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feature_store.errors import FeastOperationError
from feature_store.store_errors import store_errors

if TYPE_CHECKING:
    import pandas as pd

    from feature_store.repo import FeatureRepo

ROW_ID = "__slipway_row"


def get_training_frame(
    *,
    repo: FeatureRepo,
    entity_df: pd.DataFrame,
    features: list[str] | None = None,
    feature_service: str | None = None,
    full_feature_names: bool = False,
) -> pd.DataFrame:
    """Join features onto labelled entity rows as of each row's ``event_timestamp``.

    For every entity row, each feature takes the newest value at or before the row's timestamp
    and no older than the feature view's TTL; otherwise it is missing. A value from after the
    row's timestamp is never used.

    Args:
        entity_df: Entity keys, ``event_timestamp`` and any other columns (labels, request
            values for on-demand views); its index is ignored.
        features: ``view:feature`` references.
        feature_service: A feature service name (used when ``features`` is not given).
        full_feature_names: Prefix feature columns with their view name.

    Returns:
        One row per entity row, in the input order: the entity frame's columns, then features.

    Raises:
        FeastOperationError: Bad arguments, unknown features or a Feast failure.
    """
    if (feature_service is None) == (not features):
        raise FeastOperationError("give either a feature service or a list of features")
    if "event_timestamp" not in entity_df.columns:
        raise FeastOperationError("the entity frame needs an 'event_timestamp' column")
    store = repo.open_store()
    tagged = entity_df.reset_index(drop=True).assign(**{ROW_ID: range(len(entity_df))})
    try:
        refs: Any = store.get_feature_service(feature_service) if feature_service else features
        joined = store.get_historical_features(
            entity_df=tagged, features=refs, full_feature_names=full_feature_names
        ).to_df()
    except store_errors() as exc:
        detail = " ".join(str(exc).split())[:300]
        raise FeastOperationError(
            f"historical retrieval failed: {type(exc).__name__}: {detail}"
        ) from exc
    added = [c for c in joined.columns if c not in tagged.columns]
    result = tagged.merge(joined[[ROW_ID, *added]], on=ROW_ID, how="left", validate="one_to_one")
    return result.sort_values(ROW_ID).drop(columns=ROW_ID).reset_index(drop=True)
