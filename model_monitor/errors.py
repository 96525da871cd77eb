"""Errors of the monitoring library: one base, one class per kind of failure."""

from __future__ import annotations

from foundation.errors import SlipwayError


class MonitorError(SlipwayError):
    """Base class for every error raised by :mod:`model_monitor`."""


class CaptureError(MonitorError):
    """A capture setting (destination, sampling percentage, names) or record is invalid."""


class BaselineError(MonitorError):
    """A baseline cannot be built from the given frame, or its files are missing or malformed."""


class MonitorConfigError(MonitorError):
    """A monitoring setting (drift method, threshold, tolerance) is invalid."""
