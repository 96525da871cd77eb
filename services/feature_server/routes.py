"""Feast's other routes: health, push, write-to-online-store and the materializations.

``GET /health``, ``POST /push``, ``/write-to-online-store``, ``/materialize`` and
``/materialize-incremental`` (the read route lives in ``app``).

Errors are answered in Feast's format (``service.error_body``). An error Feast itself raises
during a write keeps its class (so the SDK raises it) with a message naming the class only;
anything else is a generic 500 with the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

from services.feature_server.errors import ApiError
from services.feature_server.fastlane import REQUEST_ID_KEY, read_body
from services.feature_server.materialization import (
    INCREMENTAL_ROUTE,
    MATERIALIZE_ROUTE,
    handle_materialize,
)
from services.feature_server.schemas import ERROR_RESPONSES
from services.feature_server.service import ServerState, error_reply
from services.feature_server.writes import PUSH_ROUTE, WRITE_ROUTE, handle_write

logger = logging.getLogger(__name__)

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    k: ERROR_RESPONSES[k] for k in (400, 401, 403, 404, 413, 415, 422, 503)
}


def feast_error(exc: Exception) -> ApiError | None:
    """The reply for an exception Feast raised: its class and status, none of its text."""
    from feast.errors import FeastError

    if not isinstance(exc, FeastError):
        return None
    name = type(exc).__name__
    module = type(exc).__module__
    return ApiError(
        f"Feast refused the request: {name}",
        status=exc.http_status_code(),
        code="feast_error",
        feast_class=name if module == "feast.errors" else None,
    )


async def _answer(
    state: ServerState, request: Request, call: Callable[[], Awaitable[bytes]]
) -> Response:
    rid = str(request.scope.get(REQUEST_ID_KEY, "-"))
    try:
        body = await call()
    except ApiError as exc:
        state.metrics.error(exc.code)
        reply = error_reply(exc, rid)
    except Exception as exc:  # Feast's own errors keep their class; the rest is a 500
        mapped = feast_error(exc)
        if mapped is None:
            raise
        logger.warning("Feast refused %s (request %s): %s", request.url.path, rid, type(exc))
        state.metrics.error(mapped.code)
        reply = error_reply(mapped, rid)
    else:
        return Response(body, status_code=200, media_type="application/json" if body else None)
    headers = {k.decode(): v.decode() for k, v in reply.headers}
    return Response(reply.body, reply.status, headers=headers, media_type="application/json")


def _body(state: ServerState, request: Request) -> Callable[[], Awaitable[bytes]]:
    async def body() -> bytes:
        return await read_body(request.scope, request.receive, limit=state.settings.max_body_bytes)

    return body


def _write_schema(push: bool) -> dict[str, Any]:
    name = "push_source_name" if push else "feature_view_name"
    props: dict[str, Any] = {
        name: {"type": "string"},
        "df": {"type": "object", "additionalProperties": {"type": "array"}},
        "allow_registry_cache": {"type": "boolean"},
        "transform_on_write": {"type": "boolean"},
    }
    if push:
        props["to"] = {"enum": ["online", "offline", "online_and_offline"]}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": props, "required": [name, "df"]}
                }
            },
        }
    }


def _write_endpoint(state: ServerState, *, push: bool) -> Callable[[Request], Awaitable[Response]]:
    async def write(request: Request) -> Response:
        return await _answer(
            state,
            request,
            lambda: handle_write(
                state, push=push, headers=request.scope["headers"], body=_body(state, request)
            ),
        )

    return write


def _materialize_endpoint(
    state: ServerState, *, incremental: bool
) -> Callable[[Request], Awaitable[Response]]:
    async def materialize(request: Request) -> Response:
        return await _answer(
            state,
            request,
            lambda: handle_materialize(
                state,
                incremental=incremental,
                headers=request.scope["headers"],
                query=request.scope.get("query_string", b""),
                body=_body(state, request),
            ),
        )

    return materialize


def _materialize_schema(incremental: bool) -> dict[str, Any]:
    stamp = {"type": "string", "format": "date-time"}
    props: dict[str, Any] = {
        "end_ts": stamp,
        "feature_views": {"type": "array", "items": {"type": "string"}},
        "full_feature_names": {"type": "boolean"},
        "version": {"type": "string"},
    }
    required = ["end_ts"]
    if not incremental:
        props["start_ts"] = stamp
        props["disable_event_timestamp"] = {"type": "boolean"}
        required = ["start_ts", "end_ts"]
    schema = {"type": "object", "properties": props, "required": required}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def add_routes(app: FastAPI, state: ServerState) -> None:
    """Add Feast's health, write and materialization routes to the app."""

    @app.get("/health", summary="Feast's health probe", tags=["ops"], response_class=Response)
    async def health() -> Response:
        """200 once the registry is loaded (as Feast's ``/health``), else 503."""
        return Response(status_code=200 if state.watcher.snapshot is not None else 503)

    for route, push in ((PUSH_ROUTE, True), (WRITE_ROUTE, False)):
        app.add_api_route(
            route,
            _write_endpoint(state, push=push),
            methods=["POST"],
            summary="Push rows (validated first)" if push else "Write rows (validated first)",
            tags=["writes"],
            responses=_WRITE_ERRORS,
            response_class=Response,
            openapi_extra=_write_schema(push),
        )

    for route, incremental in ((MATERIALIZE_ROUTE, False), (INCREMENTAL_ROUTE, True)):
        app.add_api_route(
            route,
            _materialize_endpoint(state, incremental=incremental),
            methods=["POST"],
            summary="Materialize (admin key)",
            tags=["writes"],
            responses=_WRITE_ERRORS,
            response_class=Response,
            openapi_extra=_materialize_schema(incremental),
        )
