"""Errors raised by the feature platform (repo config, data gate, Feast operations).

Every error here carries a one-line, user-facing message that names the file, source or field
at fault; the CLI prints ``str(error)`` and exits non-zero, the HTTP layer maps it to a 4xx/5xx.
"""

from __future__ import annotations

from foundation.errors import SlipwayError


class FeatureStoreError(SlipwayError):
    """Base class for every error raised by the feature platform."""


class RepoConfigError(FeatureStoreError):
    """A configuration file (``feature_store.yaml``, settings) is missing or malformed."""


class UnknownSourceError(FeatureStoreError):
    """A data source name that the feature repo does not define."""


class DataFileError(FeatureStoreError):
    """A data file (Parquet) is missing, unreadable or corrupt."""


class SuiteError(FeatureStoreError):
    """An expectation suite JSON file is missing or does not parse."""


class ValidationFailedError(FeatureStoreError):
    """The data gate rejected one or more sources; nothing was written.

    Attributes:
        failures: Mapping of source name to the failed expectation descriptions.
    """

    def __init__(self, message: str, *, failures: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or {}


class FeastOperationError(FeatureStoreError):
    """A Feast operation (plan, apply, materialize, read) failed."""


class SparkUnavailableError(FeatureStoreError):
    """Spark cannot run here: pyspark or Java is missing, or the Spark driver failed to start."""
