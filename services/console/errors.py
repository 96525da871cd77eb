"""Errors of the console; each message is safe to show on a page (no internals, no secret)."""

from __future__ import annotations

from services.errors import ServerConfigError, ServicesError


class ConsoleError(ServicesError):
    """Base class of the console's errors."""


class ConsoleConfigError(ServerConfigError, ConsoleError):
    """The console cannot start as configured (a non-local bind without a token)."""


class PageNotFoundError(ConsoleError):
    """A page asked for something that does not exist (an unknown model or version)."""
