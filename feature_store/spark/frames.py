"""Parquet into Spark DataFrames, nanosecond timestamps included.

pandas and pyarrow write ``datetime64[ns]`` columns as Parquet ``TIMESTAMP(NANOS)``, a type
Spark cannot read. The session reads them as longs (``spark.sql.legacy.parquet.nanosAsLong``,
see :mod:`feature_store.spark.session`) and :func:`read_parquet` turns each back into a Spark
timestamp, which holds microseconds: a sub-microsecond part is dropped (floored). The Parquet
footer (read with pyarrow) says which columns those are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from feature_store.errors import DataFileError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def nanosecond_columns(path: str) -> list[str]:
    """The columns of the Parquet file or folder at ``path`` stored as nanosecond timestamps.

    Raises:
        DataFileError: ``path`` is missing or not Parquet (the message names it).
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(path, format="parquet").schema
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataFileError(f"{path}: not a readable Parquet file: {exc}") from exc
    return [
        field.name
        for field in schema
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns"
    ]


def read_parquet(spark: SparkSession, path: str) -> DataFrame:
    """Read Parquet at ``path`` (a file or a folder of files) as a Spark DataFrame.

    Columns keep their order; nanosecond timestamp columns become Spark timestamps (UTC).

    Raises:
        DataFileError: ``path`` is missing or not Parquet (the message names it).
    """
    from pyspark.errors import PySparkException
    from pyspark.sql import functions

    wide = nanosecond_columns(path)
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    try:
        frame = spark.read.parquet(path)
    except PySparkException as exc:
        raise DataFileError(f"{path}: Spark cannot read it: {_first_line(exc)}") from exc
    for column in wide:
        name = f"`{column.replace('`', '``')}`"
        # Floor division on longs (exact; a double would lose precision past 2**53 ns).
        micros = functions.expr(f"timestamp_micros(div({name} - pmod({name}, 1000), 1000))")
        frame = frame.withColumn(column, micros)
    return frame


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
