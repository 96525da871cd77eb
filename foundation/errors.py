"""The root of every error Slipway expects, and the one for bad settings.

Each area derives its own base from :class:`SlipwayError` (``FeatureStoreError``,
``BuildError``, ``DeployError``, ``CiError``, ``ServicesError``...), so the CLI maps every expected
failure to one line and exit code 1 with a single ``except``.
"""

from __future__ import annotations


class SlipwayError(Exception):
    """An expected failure: its message is one line for a person and never holds a secret."""


class SettingsError(SlipwayError):
    """An environment setting is missing or invalid; the message names the variable."""
