"""Feast's Spark offline store, reading the repo's ``FileSource`` Parquet paths.

Feast 0.67's ``SparkOfflineStore`` accepts only ``SparkSource`` (and Iceberg) sources: its
``pull_latest_from_table_or_query``, ``pull_all_from_table_or_query`` and
``offline_write_batch`` assert it, ``get_historical_features`` raises ``ValueError`` for
anything else. Slipway's definitions declare ``FileSource`` (the local file store needs it) and
one set of definitions serves every store configuration, so this subclass hands Feast's code a
``SparkSource`` for each ``FileSource``: the Parquet file (path resolved against the repo, as
the file store does) read by :func:`feature_store.spark.frames.read_parquet` and registered as
a temporary view. The SQL, the point-in-time join and the engine are Feast's own; the registry
keeps the ``FileSource`` (``plan`` is the same on every configuration).

Appending a batch to a ``FileSource`` (offline push) goes to Feast's file store, which owns
that single-file format; Spark would write a folder of files instead.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from feast.infra.offline_stores.contrib.spark_offline_store.spark import (
    SparkOfflineStore,
    SparkOfflineStoreConfig,
)
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.infra.offline_stores.file_source import FileSource
from pydantic import StrictStr

from feature_store.spark.frames import read_parquet
from feature_store.spark.session import OFFLINE_STORE_TYPE, session_for

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow
    from feast.data_source import DataSource
    from feast.feature_view import FeatureView
    from feast.infra.offline_stores.offline_store import RetrievalJob
    from feast.infra.registry.base_registry import BaseRegistry
    from feast.repo_config import RepoConfig

VIEW_PREFIX = "slipway_source_"
"""Temporary view names of the sources: the prefix, then the source name."""

_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


class FileSourceSparkOfflineStoreConfig(SparkOfflineStoreConfig):  # type: ignore[misc]
    """Feast's Spark offline store settings (``spark_conf``, ``staging_location``, ``region``)."""

    type: StrictStr = OFFLINE_STORE_TYPE


class FileSourceSparkOfflineStore(SparkOfflineStore):  # type: ignore[misc]
    """Feast's Spark offline store, with each ``FileSource`` read as a Spark temporary view."""

    @staticmethod
    def pull_latest_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime,
        end_date: datetime,
    ) -> RetrievalJob:
        """Feast's latest-row-per-entity query over the source's Parquet data."""
        return SparkOfflineStore.pull_latest_from_table_or_query(
            config=config,
            data_source=spark_source(config, data_source),
            join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns,
            timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column,
            start_date=start_date,
            end_date=end_date,
        )

    @staticmethod
    def pull_all_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> RetrievalJob:
        """Feast's every-row-in-the-window query (the Spark engine's read for materialization)."""
        return SparkOfflineStore.pull_all_from_table_or_query(
            config=config,
            data_source=spark_source(config, data_source),
            join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns,
            timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column,
            start_date=start_date,
            end_date=end_date,
        )

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str | Any | None,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
        **kwargs: Any,
    ) -> RetrievalJob:
        """Feast's point-in-time join, each view reading its source as a Spark view."""
        views = []
        for view in feature_views:
            if isinstance(view.batch_source, FileSource):
                view = copy.copy(view)
                view.batch_source = spark_source(config, view.batch_source)
            views.append(view)
        return SparkOfflineStore.get_historical_features(
            config=config,
            feature_views=views,
            feature_refs=feature_refs,
            entity_df=entity_df,
            registry=registry,
            project=project,
            full_feature_names=full_feature_names,
            filter_by_created_timestamp=filter_by_created_timestamp,
            **kwargs,
        )

    @staticmethod
    def offline_write_batch(
        config: RepoConfig,
        feature_view: FeatureView,
        table: pyarrow.Table,
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Append rows to the view's source: Feast's file store for a ``FileSource``."""
        if not isinstance(feature_view.batch_source, FileSource):
            SparkOfflineStore.offline_write_batch(config, feature_view, table, progress)
            return
        from feast.infra.offline_stores.dask import DaskOfflineStore, DaskOfflineStoreConfig

        file_config = config.model_copy()
        file_config._offline_store = DaskOfflineStoreConfig()
        DaskOfflineStore.offline_write_batch(file_config, feature_view, table, progress)


def spark_source(config: RepoConfig, source: DataSource) -> DataSource:
    """``source`` as Feast's Spark store takes it: a ``FileSource`` becomes a ``SparkSource``.

    The ``FileSource``'s Parquet (its path resolved against the repo) is read into the
    session's temporary view ``slipway_source_<name>``, replaced on every call so the newest
    data is read; any other source is returned as it is.

    Raises:
        DataFileError: The Parquet file is missing or unreadable (the message names it).
        SparkUnavailableError: Spark cannot start (pyspark or Java missing).
    """
    if not isinstance(source, FileSource):
        return source
    path = FileSource.get_uri_for_file_path(repo_path=config.repo_path, uri=source.path)
    view = VIEW_PREFIX + _UNSAFE.sub("_", source.name)
    read_parquet(session_for(config), path).createOrReplaceTempView(view)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "experimental" on every SparkSource
        return SparkSource(
            name=source.name,
            table=view,
            timestamp_field=source.timestamp_field,
            created_timestamp_column=source.created_timestamp_column,
            field_mapping=dict(source.field_mapping),
            date_partition_column=source.date_partition_column or None,
            description=source.description,
            tags=dict(source.tags),
            owner=source.owner,
        )
