"""What a Feast operation raises when the store behind it fails: one tuple for every caller.

Feast passes the store clients' own exceptions through: ``redis.RedisError`` for a Redis or
Redis Cluster node that is down or slow (not an ``OSError``), pyspark's ``PySparkException``
for a failed Spark job. Callers catch :func:`store_errors` and raise one
:class:`~feature_store.errors.FeastOperationError` line instead of a client traceback.
"""

from __future__ import annotations

import importlib
import importlib.util

CLIENT_ERRORS = (
    ("redis", "redis.exceptions", "RedisError"),
    ("pyspark", "pyspark.errors", "PySparkException"),
)
"""(package, module, class) of the store clients' base errors, used when the package is there."""


def store_errors() -> tuple[type[BaseException], ...]:
    """Feast's errors, bad arguments, I/O, and the base errors of the store clients installed."""
    from feast.errors import FeastError as FeastLibraryError

    errors: list[type[BaseException]] = [
        FeastLibraryError,
        ValueError,
        KeyError,
        TypeError,
        RuntimeError,
        OSError,
    ]
    for package, module, name in CLIENT_ERRORS:
        if importlib.util.find_spec(package) is not None:
            errors.append(getattr(importlib.import_module(module), name))
    return tuple(errors)
