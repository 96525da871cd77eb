"""Features for a chunk of entity rows, in the rows' order.

* offline (the default): Feast's ``get_historical_features`` through the model's feature service:
  for every row, the values that were current at the row's event time (point in time). Feast's
  file offline store keeps one entity row per (a view's join keys, event time): two rows of the
  same driver at the same second but for different customers would lose one. So exact
  duplicate rows are asked once, and rows that share a view's keys and time go to separate
  calls (rounds); every row gets its own answer.
* online: Feast's ``get_online_features``: the latest materialized values.

The entity rows must carry the service's join keys and request fields (and, offline, the event
time column); every other column is passed through to the output untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

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
            answer = _point_in_time(
                store,
                service,
                frame,
                keys=keys,
                timestamp=timestamp,
                groups=_key_groups(store, service),
            )
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
    selected: pd.DataFrame = answer[inputs]
    return selected


def _point_in_time(
    store: FeatureStore,
    service: object,
    frame: pd.DataFrame,
    *,
    keys: list[str],
    timestamp: str,
    groups: list[list[str]],
) -> pd.DataFrame:
    """Feast's historical answer for every row of ``frame``, in order (see the module docs)."""
    import numpy as np
    import pandas as pd

    frame = frame.copy()
    frame[ROW] = np.arange(len(frame))
    first = frame.groupby(keys, sort=False, dropna=False)[ROW].transform("first").to_numpy()
    unique = frame[frame[ROW].to_numpy() == first].reset_index(drop=True)
    rounds = _rounds(unique, groups=[[*group, timestamp] for group in groups])
    answers = []
    for number in sorted(set(rounds.tolist())):
        part = unique[rounds == number]
        got = store.get_historical_features(entity_df=part, features=service).to_df()
        if len(got) != len(part):
            raise BatchError(f"features: Feast answered {len(got)} rows for {len(part)}")
        answers.append(got)
    joined = pd.concat(answers, ignore_index=True).set_index(ROW)
    ordered: pd.DataFrame = joined.loc[first].reset_index(drop=True)
    return ordered


def _rounds(frame: pd.DataFrame, *, groups: list[list[str]]) -> Any:
    """A call number per row such that no two rows of one call share a group's values.

    Rows unique in every group go to call 0; the others (rows of one driver at one second...)
    get, in order, the lowest call number none of their groups has used yet.
    """
    import numpy as np

    rounds = np.zeros(len(frame), dtype=np.int64)
    clashing = np.zeros(len(frame), dtype=bool)
    for group in groups:
        clashing |= frame.duplicated(group, keep=False).to_numpy()
    if not clashing.any():
        return rounds
    taken: dict[tuple[int, tuple[Any, ...]], set[int]] = {}
    rows = frame[clashing]
    tuples = [list(rows[group].itertuples(index=False, name=None)) for group in groups]
    for position, index in enumerate(np.flatnonzero(clashing).tolist()):
        keys = [(g, tuples[g][position]) for g in range(len(groups))]
        used = set().union(*(taken.get(key, set()) for key in keys))
        number = next(n for n in range(len(used) + 1) if n not in used)
        rounds[index] = number
        for key in keys:
            taken.setdefault(key, set()).add(number)
    return rounds


def _key_groups(store: FeatureStore, service: object) -> list[list[str]]:
    """The join keys of each feature view the service reads (on-demand views: their sources)."""
    views = {view.name: view for view in store.list_feature_views()}
    odfvs = {view.name: view for view in store.list_on_demand_feature_views()}
    groups: list[list[str]] = []
    for projection in service.feature_view_projections:  # type: ignore[attr-defined]
        names = [projection.name]
        if projection.name in odfvs:
            names = list(odfvs[projection.name].source_feature_view_projections)
        for name in names:
            if name in views:
                keys = sorted(column.name for column in views[name].entity_columns)
                if keys and keys not in groups:
                    groups.append(keys)
    return groups
