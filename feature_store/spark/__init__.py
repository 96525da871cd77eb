"""Spark for the feature platform: the ``spark`` store configuration's session and sources.

- :mod:`~feature_store.spark.settings`: ``SLIPWAY_SPARK_*`` (master, extra conf, memory).
- :mod:`~feature_store.spark.session`: what Spark needs (pyspark, Java 17+), the settings that
  go into the YAML's ``spark_conf``, the one session of a process.
- :mod:`~feature_store.spark.frames`: Parquet into Spark DataFrames (nanosecond timestamps).
- :mod:`~feature_store.spark.offline_store`: Feast's Spark offline store over the repo's
  ``FileSource`` paths (named in ``feature_store.spark.yaml``).

Importing this package is cheap: pyspark and Feast load only when a function needs them.
"""
