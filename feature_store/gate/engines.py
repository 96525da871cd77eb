"""Where the data gate's frames live: pandas in this process, or Spark.

The suites are the same for both. What differs is handled here: how a source's Parquet is
read, which GX data source takes the frame, how rows are counted, and the names in type
expectations. Suites name pandas/numpy types (``int64``, ``float32``, ``Timestamp``, ``str``);
on Spark each is checked as its Spark equivalent (:data:`SPARK_TYPES`: ``LongType``,
``FloatType``, ``TimestampType``, ``StringType``), and a name that already is a
``pyspark.sql.types`` class is used as it is. Freshness parameters are given to Spark as naive
local times, which is how pyspark hands back a Spark timestamp (the session stores UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from feature_store.errors import DataFileError, SuiteError
from feature_store.gate.suites import DATA_DIR, read_source_frame

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

GateEngine = Literal["pandas", "spark"]
"""The engine that holds the frames the gate validates."""

SPARK_TYPES: Final[dict[str, str]] = {
    "int8": "ByteType",
    "Int8": "ByteType",
    "int16": "ShortType",
    "Int16": "ShortType",
    "int32": "IntegerType",
    "Int32": "IntegerType",
    "int64": "LongType",
    "Int64": "LongType",
    "int": "LongType",
    "float32": "FloatType",
    "Float32": "FloatType",
    "float64": "DoubleType",
    "Float64": "DoubleType",
    "float": "DoubleType",
    "bool": "BooleanType",
    "boolean": "BooleanType",
    "str": "StringType",
    "string": "StringType",
    "StringDtype": "StringType",
    "object": "StringType",
    "bytes": "BinaryType",
    "Timestamp": "TimestampType",
    "datetime64[ns]": "TimestampType",
    "datetime64[us]": "TimestampType",
    "datetime64[ns, UTC]": "TimestampType",
    "datetime64[us, UTC]": "TimestampType",
    "date": "DateType",
}
"""pandas/numpy type names of the suites and the ``pyspark.sql.types`` class each maps to."""


class FrameEngine(Protocol):
    """What the gate needs from the place its frames live."""

    name: GateEngine

    def read(self, *, repo_path: Path, source: str) -> Any:
        """The source's data as a frame of this engine."""
        ...

    def add_datasource(self, context: Any) -> Any:
        """Add this engine's GX data source to an ephemeral context."""
        ...

    def row_count(self, frame: Any) -> int:
        """Number of rows of ``frame``."""
        ...

    def values_frame(self, frame: Any) -> Any:
        """The frame the value expectations see (the type expectations see ``frame``)."""
        ...

    def expectation(self, exp: dict[str, Any], *, label: str, index: int) -> dict[str, Any]:
        """``exp`` with its type names as this engine's GX expectations check them."""
        ...

    def parameters(self, params: dict[str, str]) -> dict[str, str]:
        """The run-time parameters (ISO UTC timestamps) as this engine compares them."""
        ...

    def held(self, frame: Any) -> AbstractContextManager[Any]:
        """``frame`` kept at hand for the ``with`` block (the GX runs), then let go."""
        ...


class PandasEngine:
    """Frames are pandas DataFrames read in this process (the default)."""

    name: GateEngine = "pandas"

    def read(self, *, repo_path: Path, source: str) -> pd.DataFrame:
        """The whole Parquet file as a pandas DataFrame."""
        return read_source_frame(repo_path=repo_path, source=source)

    def add_datasource(self, context: Any) -> Any:
        """GX's pandas data source."""
        return context.data_sources.add_pandas(name="slipway")

    def row_count(self, frame: Any) -> int:
        """``len(frame)``."""
        return len(frame)

    def values_frame(self, frame: Any) -> Any:
        """The frame widened to 64-bit numbers (GX checks float32 ranges value by value)."""
        return widen(frame)

    def expectation(self, exp: dict[str, Any], *, label: str, index: int) -> dict[str, Any]:
        """``exp`` unchanged: the suites name pandas types."""
        return exp

    def parameters(self, params: dict[str, str]) -> dict[str, str]:
        """``params`` unchanged (pandas timestamps are tz-aware)."""
        return params

    def held(self, frame: Any) -> AbstractContextManager[Any]:
        """``frame`` itself: it is in memory already."""
        return nullcontext(frame)


class SparkEngine:
    """Frames are Spark DataFrames on the session given (GX's Spark data source)."""

    name: GateEngine = "spark"

    def __init__(self, session: SparkSession) -> None:
        self.session = session

    def read(self, *, repo_path: Path, source: str) -> Any:
        """The Parquet file as a (lazy) Spark DataFrame."""
        from feature_store.spark.frames import read_parquet

        path = repo_path / DATA_DIR / f"{source}.parquet"
        if not path.exists():
            raise DataFileError(f"{path}: data file not found (generate or copy it first)")
        return read_parquet(self.session, str(path))

    def add_datasource(self, context: Any) -> Any:
        """GX's Spark data source, told not to cache the frames (:meth:`held` does)."""
        return context.data_sources.add_spark(name="slipway", persist=False)

    def row_count(self, frame: Any) -> int:
        """``frame.count()`` (a Spark job)."""
        return int(frame.count())

    def values_frame(self, frame: Any) -> Any:
        """``frame``: Spark compares in SQL, whatever the width."""
        return frame

    def expectation(self, exp: dict[str, Any], *, label: str, index: int) -> dict[str, Any]:
        """``exp`` with pandas type names replaced by their Spark classes (see the module)."""
        kwargs = dict(exp.get("kwargs") or {})
        if isinstance(kwargs.get("type_"), str):
            kwargs["type_"] = spark_type(kwargs["type_"], label=label, index=index)
        elif isinstance(kwargs.get("type_list"), list):
            names = [spark_type(str(t), label=label, index=index) for t in kwargs["type_list"]]
            kwargs["type_list"] = list(dict.fromkeys(names))
        else:
            return exp
        return {**exp, "kwargs": kwargs}

    def parameters(self, params: dict[str, str]) -> dict[str, str]:
        """``params`` as naive local times (see the module doc)."""
        # pyspark turns a Spark timestamp into a naive datetime in this process's local time
        # (datetime.fromtimestamp); compare against the same.
        return {
            key: datetime.fromtimestamp(datetime.fromisoformat(value).timestamp()).isoformat()
            for key, value in params.items()
        }

    @contextmanager
    def held(self, frame: Any) -> Iterator[Any]:
        """``frame`` cached (memory, then disk) for the ``with`` block, then uncached.

        GX's own caching never uncaches, and Spark serves a later read of the same path from
        a cached plan: the next batch would be validated on the old data. A frame the caller
        cached already is left as it is.
        """
        from pyspark import StorageLevel

        level = frame.storageLevel
        if level.useMemory or level.useDisk:
            yield frame
            return
        frame.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            yield frame
        finally:
            frame.unpersist(blocking=True)


def spark_type(name: str, *, label: str, index: int) -> str:
    """The ``pyspark.sql.types`` class name a suite's type name is checked as on Spark.

    Raises:
        SuiteError: The name is neither in :data:`SPARK_TYPES` nor a pyspark type class.
    """
    if name in SPARK_TYPES:
        return SPARK_TYPES[name]
    import pyspark.sql.types as spark_types

    if isinstance(getattr(spark_types, name, None), type):
        return name
    raise SuiteError(
        f"{label}: expectations[{index}]: type {name!r} has no Spark equivalent "
        f"(known: {', '.join(sorted(SPARK_TYPES))}, or a pyspark.sql.types class name)"
    )


def widen(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with numpy float/int columns narrower than 64 bits widened (lossless)."""
    import numpy as np

    wider: dict[Any, type] = {}
    for column, dtype in frame.dtypes.items():
        if isinstance(dtype, np.dtype) and dtype.itemsize < 8:
            if dtype.kind == "f":
                wider[column] = np.float64
            elif dtype.kind in "iu":
                wider[column] = np.int64
    if not wider:
        return frame
    return frame.astype(wider).copy()  # copy() consolidates the blocks GX slices repeatedly
