"""Errors of the feature service and how each maps to an HTTP status.

Every message here is written for the client: it names the feature, view, service or column at
fault and never carries exception text from a library.
"""

from __future__ import annotations

from services.errors import ServicesError


class ApiError(ServicesError):
    """A request the service refuses, with the HTTP status and a short machine-readable code.

    A subclass names its defaults in the class line (``class X(ApiError, status=404,
    code="not_found")``); an instance may override them.

    Attributes:
        status: HTTP status code.
        code: Stable error code (``unknown_feature``, ``bad_entity_type``, ...).
        message: One line for the client.
        feast_class: The ``feast.errors`` class Feast raises for the same fault, or None when
            Feast answers it with a plain 500 (its SDK then raises ``RuntimeError``): see
            ``services.feature_server.service.error_body``.
        details: Extra fields for the error object (a refused write lists its failures).
    """

    status = 400
    code = "bad_request"
    feast_class: str | None = None
    details: dict[str, object] | None = None

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None) -> None:
        super().__init_subclass__()
        cls.status = cls.status if status is None else status
        cls.code = cls.code if code is None else code

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        feast_class: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if feast_class is not None:
            self.feast_class = feast_class


class BadRequestError(ApiError, status=400, code="bad_request"):
    """The body is not JSON or not an object (400)."""


class ValidationError(ApiError, status=422, code="invalid_request"):
    """The body is JSON but its fields are wrong (422)."""


class NotFoundError(ApiError, status=404, code="not_found"):
    """A named feature, feature view or feature service does not exist (404)."""


class UnsupportedMediaError(ApiError, status=415, code="unsupported_media_type"):
    """The body's ``Content-Type`` is not JSON (415)."""


class TooLargeError(ApiError, status=413, code="too_large"):
    """The body or the number of entity rows exceeds a limit (413)."""


class UnauthorizedError(ApiError, status=401, code="unauthorized"):
    """No API key, or a key that is not on the list (401)."""


class ForbiddenError(ApiError, status=403, code="forbidden"):
    """A valid key asked for something outside its scope (403)."""

    feast_class = "FeastPermissionError"


class UnavailableError(ApiError, status=503, code="unavailable"):
    """The registry is not loaded or the online store does not answer (503)."""


class RejectedWriteError(ApiError, status=422, code="expectations_failed"):
    """A push or write whose rows fail the source's expectation suite (422); nothing written."""


class StoreUnavailableError(ServicesError):
    """The online store did not answer in time or refused the connection."""


class WorkerStartupError(ServicesError):
    """A feature server worker could not start serving (its app start-up failed)."""
