"""Errors of ``slipway monitor`` (one base, one-line messages naming the deployment)."""

from __future__ import annotations

from foundation.errors import SlipwayError


class MonitorRunError(SlipwayError):
    """A monitoring run or a label ingestion could not be done (not a violation)."""


class NoBaselineError(MonitorRunError):
    """The version monitored has no baseline in the registry."""


class LabelFileError(MonitorRunError):
    """A ground-truth file to ingest is unreadable or has malformed lines (named by number)."""
