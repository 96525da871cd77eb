"""The service's shared state and the handler core of ``POST /get-online-features``.

``handle_online`` turns headers and a body into a reply; the ASGI fast lane
(``services.feature_server.fastlane``) and the documented FastAPI route both call it, so there
is one read path. Errors become Feast-format bodies (see ``error_body``); an unexpected exception is
logged with the request id and answered with a generic 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.feature_server.auth import ApiKeyStore, check_scope
from services.feature_server.engine import TransformationError, read_online
from services.feature_server.errors import ApiError, StoreUnavailableError, UnavailableError
from services.feature_server.freshness import Freshness
from services.feature_server.metrics import FEATURES, NONE, Metrics
from services.feature_server.plan import plan_for
from services.feature_server.registry import RegistryWatcher
from services.feature_server.request import check_content_type, parse_request
from services.feature_server.settings import ServerSettings
from services.feature_server.stores import OnlineStoreReader
from services.feature_server.writes import Validators

logger = logging.getLogger(__name__)

JSON = b"application/json"
_STORE_WARNING_EVERY = 5.0
_last_store_warning = [float("-inf")]
ONLINE_ROUTE = "/get-online-features"


@dataclass(slots=True)
class ServerState:
    """Everything a request needs, built once per app.

    Attributes:
        settings: The server settings.
        config: The Feast ``RepoConfig``.
        watcher: Registry snapshot holder and its refresh thread.
        reader: Online store reader.
        keys: Accepted API keys.
        metrics: Prometheus metrics.
        key_version: ``entity_key_serialization_version``.
        validators: Compiled expectation suites of the sources (gated writes).
        freshness: Newest online value per view (``/metrics``), refreshed in the background.
        write_lock: Serializes this worker's writes and materializations.
        readiness: The last store probe of ``/readyz``: when, the problem (None: ready) and
            the registry digest it was made for.
        started: Monotonic start time.
    """

    settings: ServerSettings
    config: Any
    watcher: RegistryWatcher
    reader: OnlineStoreReader
    keys: ApiKeyStore
    metrics: Metrics
    key_version: int
    validators: Validators
    freshness: Freshness = field(default_factory=Freshness)
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    readiness: tuple[float, str | None, str] | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Reply:
    """An HTTP reply: status, JSON body, extra headers and the metrics label."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]
    service: str


def error_body(
    message: str | list[Any],
    code: str,
    request_id: str,
    feast_class: str | None = None,
    details: dict[str, Any] | None = None,
) -> bytes:
    """Render an error body in Feast's format, so Feast's SDK raises what Feast would raise.

    Feast's server answers a ``FeastError`` with a JSON *string* holding
    ``{"module", "class", "message"}`` (``FeastError.to_error_detail``); its SDK turns that
    back into the named exception class. Every error here is such a string holding an object
    with ``message``, ``code`` and ``request_id``, plus ``module`` and ``class`` when Feast
    has a class for the fault (``feast_class``). Without them the SDK raises ``RuntimeError``
    with the body inside, as it does for Feast's plain 500s.
    """
    detail: dict[str, Any] = {}
    if feast_class is not None:
        detail = {"module": "feast.errors", "class": feast_class}
    detail.update(message=message, code=code, request_id=request_id)
    if details:
        detail.update(details)
    return orjson.dumps(orjson.dumps(detail).decode())


def error_reply(exc: ApiError, request_id: str, service: str = NONE) -> Reply:
    """Turn an ``ApiError`` into a reply (with ``WWW-Authenticate``/``Retry-After`` as due)."""
    headers: list[tuple[bytes, bytes]] = []
    if exc.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    elif exc.status == 503:
        headers.append((b"retry-after", b"1"))
    body = error_body(exc.message, exc.code, request_id, exc.feast_class, exc.details)
    return Reply(exc.status, body, headers, service)


def internal_reply(request_id: str, service: str = NONE) -> Reply:
    """A 500 that carries no exception text, only the request id."""
    body = error_body(
        "internal error; quote the request id when reporting it", "internal", request_id
    )
    return Reply(500, body, [], service)


async def handle_online(
    state: ServerState,
    *,
    headers: Iterable[tuple[bytes, bytes]],
    body: Callable[[], Awaitable[bytes]],
    request_id: str,
) -> Reply:
    """Serve ``POST /get-online-features``; the reply, never an exception.

    ``headers`` are the raw request headers (lower-case names); ``body`` reads the size-limited
    body and is called only once the API key is accepted; ``request_id`` goes into error
    bodies and logs.
    """
    service = NONE
    try:
        key = state.keys.authenticate(headers)
        check_content_type(headers)
        request = parse_request(await body(), max_entities=state.settings.max_entities)
        check_scope(key, service=request.feature_service)
        snapshot = state.watcher.snapshot
        if snapshot is None:
            raise UnavailableError("feature registry not loaded yet", code="registry_unavailable")
        plan = plan_for(
            snapshot,
            features=request.features,
            service=request.feature_service,
            full_feature_names=request.full_feature_names,
        )
        service = plan.service or FEATURES
        result = await read_online(
            plan, request, snapshot=snapshot, reader=state.reader, key_version=state.key_version
        )
        state.metrics.observe_read(state.reader.kind, result.store_seconds, request.rows)
        return Reply(200, result.body, [], service)
    except ApiError as exc:
        state.metrics.error(exc.code)
        return error_reply(exc, request_id, service)
    except StoreUnavailableError as exc:
        state.metrics.error("store_unavailable")
        now = time.monotonic()
        if now - _last_store_warning[0] > _STORE_WARNING_EVERY:  # one line per 5 s, not per request
            _last_store_warning[0] = now
            logger.warning("online store unavailable (request %s): %s", request_id, exc)
        reply = UnavailableError("online store unavailable", code="store_unavailable")
        return error_reply(reply, request_id, service)
    except TransformationError:
        state.metrics.error("transformation")
        logger.exception("on-demand transformation failed (request %s)", request_id)
        return internal_reply(request_id, service)
    # Last line of defence: the client gets a generic 500, the log gets the traceback.
    except Exception:
        state.metrics.error("internal")
        logger.exception("unexpected error (request %s)", request_id)
        return internal_reply(request_id, service)
