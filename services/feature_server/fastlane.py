"""The outer ASGI layer: request ids, metrics and error shielding, plus the online hot path.

It serves ``POST /get-online-features`` without FastAPI's per-request machinery.

The hot path reads the body with a size limit, calls
``services.feature_server.service.handle_online`` and sends the orjson bytes directly. Every
other request goes through FastAPI unchanged, with the request id added to the response, its
latency recorded and any escaping exception turned into a generic 500 (logged with the request
id, no exception text in the body).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from services.feature_server.errors import BadRequestError, TooLargeError
from services.feature_server.metrics import NONE
from services.feature_server.service import (
    JSON,
    ONLINE_ROUTE,
    Reply,
    ServerState,
    handle_online,
    internal_reply,
)

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_KEY: Final = "slipway.request_id"
_VALID_ID: Final = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class _IdSpace:
    """Generated request ids: a random prefix per process and a counter."""

    __slots__ = ("counter", "prefix")

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix = secrets.token_hex(4)
        self.counter = itertools.count(1)


_ids = _IdSpace()
os.register_at_fork(after_in_child=_ids.renew)  # forked workers never share ids


def request_id(headers: list[tuple[bytes, bytes]], header: bytes) -> str:
    """Take a well-formed request id from the request, or make one (unique per worker)."""
    for name, value in headers:
        if name == header:
            text = value.decode("latin-1")
            if _VALID_ID.match(text):
                return text
            break
    return f"{_ids.prefix}-{next(_ids.counter):x}"


async def read_body(scope: Scope, receive: Receive, *, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes.

    Raises:
        TooLargeError: ``Content-Length`` or the bytes received exceed the limit.
        BadRequestError: The client went away mid-body.
    """
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise TooLargeError(
                    f"request body of {int(value)} bytes exceeds the limit of {limit} bytes",
                    code="body_too_large",
                )
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequestError("client disconnected", code="disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLargeError(
                f"request body exceeds the limit of {limit} bytes", code="body_too_large"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_reply(send: Send, reply: Reply, rid: bytes, rid_header: bytes) -> None:
    """Send a JSON reply with content length and the request id."""
    headers = [
        (b"content-type", JSON),
        (b"content-length", str(len(reply.body)).encode()),
        (rid_header, rid),
        *reply.headers,
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


class FastLane:
    """Outer ASGI layer of the app (see module docstring)."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        """Wrap the inner (FastAPI) app."""
        self.app = app
        self.state = state
        self.header = state.settings.request_id_header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope["headers"], self.header)
        scope[REQUEST_ID_KEY] = rid
        if scope["path"] == ONLINE_ROUTE and scope["method"] == "POST":
            reply = await self._online(scope, receive, rid)
            await send_reply(send, reply, rid.encode("latin-1"), self.header)
            self.state.metrics.observe(
                ONLINE_ROUTE, reply.service, reply.status, time.perf_counter() - started
            )
            return
        await self._other(scope, receive, send, rid, started)

    async def _online(self, scope: Scope, receive: Receive, rid: str) -> Reply:
        limit = self.state.settings.max_body_bytes

        async def body() -> bytes:
            return await read_body(scope, receive, limit=limit)

        return await handle_online(self.state, headers=scope["headers"], body=body, request_id=rid)

    async def _other(
        self, scope: Scope, receive: Receive, send: Send, rid: str, started: float
    ) -> None:
        status = 500
        response_started = False
        rid_bytes = rid.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), (self.header, rid_bytes)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        # Shield clients from exception text on every route; the log keeps the traceback.
        except Exception:
            self.state.metrics.error("internal")
            logger.exception("unexpected error (request %s)", rid)
            if not response_started:
                status = 500
                await send_reply(send, internal_reply(rid), rid_bytes, self.header)
        route = scope.get("route")
        path = getattr(route, "path", None) or "(unmatched)"
        self.state.metrics.observe(path, NONE, status, time.perf_counter() - started)
