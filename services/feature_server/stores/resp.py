"""A lean Redis connection for the read path: hand-built RESP pipelines, hiredis parsing.

redis-py's asyncio pipeline builds a command object, a connection checkout and a parser
round per command: for 200 ``HMGET`` of a 100-entity request that cost more than the rest of
the request. Here one request's commands are one ``bytes`` write (the field part of each
``HMGET`` is prebuilt per view and feature list), replies are parsed by hiredis, and every
concurrent request shares one connection: Redis answers in order, so each request waits for
its own slice of replies (FIFO). A request that times out leaves its slot in the queue (its
replies are read and dropped when they come), so one late reply fails only its own request;
when the oldest request has waited three timeouts, Redis is taken as hung and the connection
is dropped. A broken connection fails every waiting request; the next request reconnects.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

_CRLF: Final = b"\r\n"


def command(*parts: bytes) -> bytes:
    """One RESP command (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def hmget_tail(fields: Sequence[bytes]) -> tuple[bytes, int]:
    """The prebuilt field part of ``HMGET key f1 .. fn`` and the array length of the command."""
    return b"".join(b"$%d\r\n%s\r\n" % (len(f), f) for f in fields), len(fields) + 2


def hmget(key: bytes, tail: bytes, parts: int) -> bytes:
    """``HMGET key`` followed by a prebuilt field part (see ``hmget_tail``)."""
    return b"*%d\r\n$5\r\nHMGET\r\n$%d\r\n%s\r\n%s" % (parts, len(key), key, tail)


class RespError(Exception):
    """Redis answered an error, or the connection broke (the message names which)."""


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        import hiredis

        self.reader = hiredis.Reader()
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.waiters: deque[tuple[asyncio.Future[list[Any]], int, list[Any]]] = deque()
        self.sent: deque[float] = deque()  # when each waiter's commands were written
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        waiters = self.waiters
        while waiters:
            future, count, replies = waiters[0]
            while len(replies) < count:
                reply = reader.gets()
                if reply is False:
                    return
                replies.append(reply)
            waiters.popleft()
            self.sent.popleft()
            if not future.done():
                future.set_result(replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RespError("connection closed"))

    def fail(self, error: Exception) -> None:
        self.closed = True
        self.sent.clear()
        while self.waiters:
            future, _, _ = self.waiters.popleft()
            if not future.done():
                future.set_exception(error)
                future.exception()  # its request may have gone: never log it as unretrieved
        if self.transport is not None:
            self.transport.close()


class RespClient:
    """One pipelining connection to Redis, opened on first use and after a failure."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        timeout: float,
        password: str | None = None,
        username: str | None = None,
        db: int = 0,
        tls: bool = False,
    ) -> None:
        """Describe the server; nothing is connected yet."""
        self.host, self.port, self.timeout = host, port, timeout
        self._hello: list[bytes] = []
        if password is not None:
            auth = [b"AUTH", username.encode()] if username else [b"AUTH"]
            self._hello.append(command(*auth, password.encode()))
        if db:
            self._hello.append(command(b"SELECT", str(db).encode()))
        self._tls = tls
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connection(self) -> _Protocol:
        proto = self._proto
        if proto is not None and not proto.closed:
            return proto
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._proto is not None and not self._proto.closed:
                return self._proto
            loop = asyncio.get_running_loop()
            context = ssl.create_default_context() if self._tls else None
            _, proto = await loop.create_connection(_Protocol, self.host, self.port, ssl=context)
            self._proto = proto
            if self._hello:
                await self._send(proto, b"".join(self._hello), len(self._hello))
            return proto

    async def _send(self, proto: _Protocol, payload: bytes, count: int) -> list[Any]:
        import hiredis

        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        proto.waiters.append((future, count, []))
        proto.sent.append(time.monotonic())
        proto.transport.write(payload)
        replies = await future
        for reply in replies:
            if isinstance(reply, hiredis.ReplyError):
                raise RespError(f"redis error: {str(reply).split(' ', 1)[0]}")
        return replies

    async def execute(self, payload: bytes, count: int) -> list[Any]:
        """Send ``count`` commands (one ``bytes``) and return their replies, in order.

        Raises:
            RespError: Redis answered an error or the connection broke.
            TimeoutError: No complete answer within the timeout (the connection is dropped:
                its replies could no longer be matched to requests).
            OSError: The connection could not be made.
        """
        try:
            async with asyncio.timeout(self.timeout):
                proto = await self._connection()
                return await self._send(proto, payload, count)
        except TimeoutError:
            current = self._proto
            hung = current is not None and current.sent and time.monotonic() - current.sent[0]
            if hung and hung > 3 * self.timeout:  # the oldest request waited too long
                self._drop(TimeoutError("redis: no answer in time"))
            raise

    def _drop(self, error: Exception) -> None:
        proto, self._proto = self._proto, None
        if proto is not None:
            proto.fail(error)

    async def close(self) -> None:
        """Close the connection (a later call reconnects)."""
        self._drop(RespError("connection closed by the reader"))
