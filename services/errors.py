"""The base error of the HTTP services (feature server, inference server).

Every subclass carries a one-line message safe to show a client; the servers map them to 4xx/5xx
bodies that never carry exception text from a library.
"""

from __future__ import annotations

from foundation.errors import SlipwayError


class ServicesError(SlipwayError):
    """Base class for every error raised by the HTTP services."""


class ServerConfigError(ServicesError):
    """A server setting or file (API keys, limits, the online store type) is invalid."""
