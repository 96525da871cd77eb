"""Features for a chunk of entity rows, in the rows' order.

* offline (the default): Feast's ``get_historical_features`` through the model's feature service:
  for every row, the values that were current at the row's event time (point in time);
* online: Feast's ``get_online_features``: the latest materialized values.

The entity rows must carry the service's join keys and request fields (and, offline, the event
time column); every other column is passed through to the output untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from model_build.errors import BatchError

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

    from model_build.pipeline.steps.training_set import FeatureServiceInfo

ROW: Final = "__slipway_row"
"""A column added to the entity frame to put Feast's answer back in the rows' order."""


def required_columns(info: FeatureServiceInfo, *, timestamp: str, online: bool) -> list[str]:
    """The columns an entity file needs: join keys, request fields and (offline) event time."""
    columns = [*info.entity_keys, *info.request_fields]
    return columns if online else [*columns, timestamp]


def read_features(
    *,
    store: FeatureStore,
    info: FeatureServiceInfo,
    entities: pd.DataFrame,
    timestamp: str,
    online: bool,
) -> pd.DataFrame:
    """The model inputs (service features, then request fields) for every entity row, in order.

    Raises:
        BatchError: Feast failed; the message says which way features were read.
    """
    service = store.get_feature_service(info.name)
    keys = required_columns(info, timestamp=timestamp, online=online)
    frame = entities[keys].reset_index(drop=True)
    try:
        if online:
            columns = {name: frame[name].tolist() for name in keys}
            answer = store.get_online_features(features=service, entity_rows=columns).to_df()
            answer = answer.reset_index(drop=True)
        else:
            frame[ROW] = range(len(frame))
            job = store.get_historical_features(entity_df=frame, features=service)
            answer = job.to_df().sort_values(ROW, kind="mergesort").reset_index(drop=True)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
        way = "get_online_features" if online else "get_historical_features"
        raise BatchError(f"features: Feast {way} failed: {exc}") from exc
    if len(answer) != len(frame):
        raise BatchError(f"features: Feast answered {len(answer)} rows for {len(frame)}")
    for name in info.request_fields:  # request values are inputs, not always in Feast's answer
        if name not in answer.columns:
            answer[name] = frame[name].to_numpy()
    inputs = info.inputs
    missing = [name for name in inputs if name not in answer.columns]
    if missing:
        raise BatchError(f"features: Feast's answer lacks {', '.join(missing)}")
    return answer[inputs]
