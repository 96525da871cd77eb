"""Errors raised while serving a model: each maps to one HTTP status and a JSON error body."""

from __future__ import annotations

from typing import Any

from services.errors import ServicesError


class RequestError(ServicesError):
    """A request the server refuses; the message and details are safe to return to the caller.

    Attributes:
        status: HTTP status code (4xx).
        code: Short machine-readable error code, e.g. ``feature_mismatch``.
        details: Extra JSON-serialisable facts (row, feature, expected features...).
    """

    def __init__(
        self, message: str, *, status: int, code: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON error body: ``{"error": code, "message": ..., "details": {...}}``."""
        return {"error": self.code, "message": str(self), "details": self.details}


def bad_request(message: str, *, code: str, **details: Any) -> RequestError:
    """Build a 400 error (malformed body, wrong CSV shape).

    Args:
        message: One-line explanation for the caller.
        code: Error code.
        **details: Extra facts for the body.

    Returns:
        The error (to raise).
    """
    return RequestError(message, status=400, code=code, details=details)


def unprocessable(message: str, *, code: str, **details: Any) -> RequestError:
    """Build a 422 error (well-formed body whose content the model cannot score).

    Args:
        message: One-line explanation for the caller.
        code: Error code.
        **details: Extra facts for the body.

    Returns:
        The error (to raise).
    """
    return RequestError(message, status=422, code=code, details=details)
