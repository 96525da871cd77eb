"""Step 2, training set: a point-in-time correct Feast join of the labelled entity rows.

The entity frame is the entity/label source (``trips``): row id, entity join keys, event time,
request values (``trip_distance_km``) and the label. ``get_historical_features`` through the
model's feature service attaches, for every row, the feature values that were current at the
row's event time, so no future information leaks into training. Rows are then sorted by
(event time, row id) and hashed: same data, same hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from model_build.errors import PipelineError

if TYPE_CHECKING:
    from feast import FeatureStore

    from feature_store.repo import FeatureRepo
    from model_build.definition.schema import DataSection

FRAME_FILE: Final = "training_set.parquet"
META_FILE: Final = "training_set.json"
_STRING_TYPES: Final = frozenset({"String", "Bool"})


@dataclass(frozen=True)
class FeatureServiceInfo:
    """What a feature service gives a model, read from the Feast registry.

    The model's inputs are the service's features followed by the request fields (e.g.
    ``trip_distance_km``): both are known when a prediction is requested.

    Attributes:
        name: Feature service name.
        features: Ordered feature names of the service (no view prefix).
        categorical: Inputs of string type (one-hot encoded).
        entity_keys: Join keys the entity frame must carry.
        request_fields: Request-time values the on-demand views need.
        sources: Batch data sources behind the service's feature views.
    """

    name: str
    features: list[str]
    categorical: list[str]
    entity_keys: list[str]
    request_fields: list[str]
    sources: list[str]

    @property
    def inputs(self) -> list[str]:
        """Ordered model inputs: the service's features, then the request fields."""
        return list(dict.fromkeys([*self.features, *self.request_fields]))


@dataclass(frozen=True)
class TrainingSet:
    """Labelled, point-in-time joined rows in a deterministic order.

    Attributes:
        frame: One row per entity row, sorted by (``timestamp``, ``id_column``).
        info: The feature service the features came from.
        label: Label column.
        timestamp: Event time column.
        id_column: Row id column.
        data_hash: ``sha256:<hex>`` of the frame's canonical bytes (see :func:`frame_digest`).
    """

    frame: pd.DataFrame
    info: FeatureServiceInfo
    label: str
    timestamp: str
    id_column: str
    data_hash: str

    @property
    def features(self) -> list[str]:
        """Ordered model inputs (service features, then request fields)."""
        return self.info.inputs

    def stats(self) -> dict[str, Any]:
        """Plain-JSON statistics: rows, label rate or counts, time range, per-feature summaries.

        ``label_rate`` is the mean of a numeric label; a text label gets ``label_counts``.
        """
        frame = self.frame
        columns: dict[str, Any] = {}
        for name in self.features:
            series = frame[name]
            entry: dict[str, Any] = {"dtype": str(series.dtype), "nulls": int(series.isna().sum())}
            if name in self.info.categorical:
                counts = series.astype("string").fillna("<null>").value_counts().sort_index()
                entry["values"] = {str(k): int(v) for k, v in counts.items()}
            else:
                values = series.astype("float64")
                entry.update(
                    mean=_num(values.mean()),
                    std=_num(values.std()),
                    min=_num(values.min()),
                    max=_num(values.max()),
                )
            columns[name] = entry
        times = frame[self.timestamp]
        labels = frame[self.label]
        numeric = pd.api.types.is_numeric_dtype(labels.dtype)
        by_class = (
            None
            if numeric
            else {str(k): int(v) for k, v in labels.astype("string").value_counts().items()}
        )
        return {
            "rows": len(frame),
            "label_rate": _num(labels.astype("float64").mean()) if numeric else None,
            "label_counts": dict(sorted(by_class.items())) if by_class is not None else None,
            "time_range": [str(times.min()), str(times.max())] if len(frame) else [],
            "feature_service": self.info.name,
            "data_hash": self.data_hash,
            "inputs": list(self.features),
            "features": columns,
        }


def describe_feature_service(*, store: FeatureStore, name: str) -> FeatureServiceInfo:
    """Read a feature service's ordered features, join keys, request fields and sources.

    ``store`` is an open feature store whose registry holds the applied repo.

    Raises:
        PipelineError: The service is not in the registry (repo not applied?).
    """
    from feast.errors import FeastObjectNotFoundException

    try:
        service = store.get_feature_service(name)
    except FeastObjectNotFoundException as exc:
        raise PipelineError(
            f"training set: feature service {name!r} is not in the Feast registry; "
            "run `slipway features apply` first"
        ) from exc
    views = {fv.name: fv for fv in store.list_feature_views()}
    odfvs = {fv.name: fv for fv in store.list_on_demand_feature_views()}
    features: list[str] = []
    categorical: list[str] = []
    keys: list[str] = []
    requests: list[str] = []
    sources: list[str] = []
    for projection in service.feature_view_projections:
        for field in projection.features:
            features.append(field.name)
            if str(field.dtype) in _STRING_TYPES:
                categorical.append(field.name)
        source_views: list[Any] = []
        if projection.name in views:
            source_views.append(views[projection.name])
        elif projection.name in odfvs:
            odfv = odfvs[projection.name]
            source_views.extend(views[v] for v in odfv.source_feature_view_projections)
            for request in odfv.source_request_sources.values():
                requests.extend(f.name for f in request.schema)
                categorical.extend(f.name for f in request.schema if str(f.dtype) in _STRING_TYPES)
        for view in source_views:
            keys.extend(column.name for column in view.entity_columns)
            sources.append(view.batch_source.name)
    return FeatureServiceInfo(
        name=name,
        features=features,
        categorical=list(dict.fromkeys(categorical)),
        entity_keys=list(dict.fromkeys(keys)),
        request_fields=list(dict.fromkeys(requests)),
        sources=list(dict.fromkeys(sources)),
    )


def build_training_set(
    *, repo: FeatureRepo, data: DataSection, feature_service: str, extra: Sequence[str] = ()
) -> TrainingSet:
    """Join the labelled entity rows with point-in-time correct features.

    ``repo`` must be applied (its registry holds ``feature_service``); ``data`` names the entity
    source, label and row id column; ``extra`` names further entity source columns to carry
    along (a bias attribute that is not a model input; they enter the data hash). The result is
    sorted by (event time, row id) and carries its data hash.

    Raises:
        PipelineError: The service or source is unknown, a column is missing, or Feast failed.
    """
    store = repo.open_store()
    info = describe_feature_service(store=store, name=feature_service)
    path, timestamp = entity_source(repo=repo, name=data.entity_source, store=store)
    columns = [data.id_column, *info.entity_keys, timestamp, *info.request_fields, data.label]
    columns += [name for name in extra if name not in columns and name not in info.features]
    entities = pd.read_parquet(path)
    missing = [c for c in columns if c not in entities.columns]
    if missing:
        raise PipelineError(f"training set: {path}: missing column(s) {', '.join(missing)}")
    entities = entities[list(dict.fromkeys(columns))]
    try:
        job = store.get_historical_features(
            entity_df=entities, features=store.get_feature_service(feature_service)
        )
        joined = job.to_df()
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
        raise PipelineError(f"training set: Feast get_historical_features failed: {exc}") from exc
    wanted = list(dict.fromkeys([*columns, *info.features]))
    frame = canonical_frame(joined, columns=wanted, order=[timestamp, data.id_column])
    return TrainingSet(
        frame=frame,
        info=info,
        label=data.label,
        timestamp=timestamp,
        id_column=data.id_column,
        data_hash=frame_digest(frame),
    )


def entity_source(
    *, repo: FeatureRepo, name: str, store: FeatureStore | None = None
) -> tuple[Path, str]:
    """The Parquet file and event time column of the entity/label source ``name``.

    Raises:
        PipelineError: The source is not in the Feast registry or its file is missing.
    """
    from feast.errors import FeastObjectNotFoundException

    store = store or repo.open_store()
    try:
        source = store.get_data_source(name)
    except FeastObjectNotFoundException as exc:
        raise PipelineError(
            f"training set: data source {name!r} is not in the Feast registry"
        ) from exc
    path = Path(str(getattr(source, "path", "")))
    path = path if path.is_absolute() else repo.path / path
    if not path.is_file():
        raise PipelineError(f"training set: {path}: entity source file not found")
    return path, str(source.timestamp_field)


def read_label(*, repo: FeatureRepo, name: str, label: str) -> pd.Series:
    """The label column of the entity source ``name`` (read alone, before any join).

    Raises:
        PipelineError: The source or its file is missing, or the file has no such column.
    """
    path, _ = entity_source(repo=repo, name=name)
    try:
        return pd.read_parquet(path, columns=[label])[label]
    except (KeyError, ValueError) as exc:
        raise PipelineError(f"training set: {path}: no label column {label!r}") from exc


def canonical_frame(frame: pd.DataFrame, *, columns: list[str], order: list[str]) -> pd.DataFrame:
    """A new frame of ``columns`` in that order, rows sorted stably by ``order``, a fresh index.

    The last ``order`` key should be unique.
    """
    selected = frame[columns]
    return selected.sort_values(order, kind="mergesort").reset_index(drop=True)


def frame_digest(frame: pd.DataFrame) -> str:
    """Hash a frame's content canonically (``sha256:<hex>``), independent of pandas' pickling.

    Columns are taken in name order; each contributes its name, dtype and values (numbers as
    little-endian bytes, times as UTC nanoseconds, text as JSON). Row order matters: sort first.
    """
    digest = hashlib.sha256()
    digest.update(f"rows={len(frame)}\n".encode())
    for name in sorted(frame.columns, key=str):
        series = frame[name]
        digest.update(f"{name}\x00{series.dtype}\x00".encode())
        if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
            series.dtype
        ):
            values = series.dt.tz_convert("UTC") if series.dt.tz is not None else series
            digest.update(values.astype("int64").to_numpy().astype("<i8").tobytes())
        elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        ):
            array = series.to_numpy()
            digest.update(
                np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            )
        else:
            items = [None if pd.isna(v) else str(v) for v in series.tolist()]
            digest.update(json.dumps(items).encode())
    return f"sha256:{digest.hexdigest()}"


def save_training_set(training_set: TrainingSet, *, directory: Path) -> Path:
    """Write a training set as Parquet plus a JSON description (the SageMaker hand-off).

    ``directory`` is created if needed and returned.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(training_set.frame, preserve_index=False)
    pq.write_table(table, directory / FRAME_FILE, compression="snappy")
    meta = {
        "info": training_set.info.__dict__,
        "label": training_set.label,
        "timestamp": training_set.timestamp,
        "id_column": training_set.id_column,
        "data_hash": training_set.data_hash,
    }
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return directory


def load_training_set(*, directory: Path) -> TrainingSet:
    """Read a training set written by :func:`save_training_set` and check its hash.

    Raises:
        PipelineError: A file is missing or the data does not match the recorded hash.
    """
    meta_path, frame_path = directory / META_FILE, directory / FRAME_FILE
    for path in (meta_path, frame_path):
        if not path.is_file():
            raise PipelineError(f"training set: {path}: file not found")
    meta = json.loads(meta_path.read_text())
    frame = pd.read_parquet(frame_path)
    actual = frame_digest(frame)
    if actual != meta["data_hash"]:
        raise PipelineError(
            f"training set: {frame_path}: data hash {actual} does not match {meta['data_hash']}"
        )
    return TrainingSet(
        frame=frame,
        info=FeatureServiceInfo(**meta["info"]),
        label=str(meta["label"]),
        timestamp=str(meta["timestamp"]),
        id_column=str(meta["id_column"]),
        data_hash=actual,
    )


def _num(value: Any) -> float | None:
    number = float(value)
    return None if np.isnan(number) else number
