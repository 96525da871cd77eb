"""Errors of the top-level ``slipway`` package (the main job)."""

from __future__ import annotations

from foundation.errors import SlipwayError


class DemoError(SlipwayError):
    """A step of the main job failed; the message names the step and its error."""
