"""The lean Redis connection: pipelines, FIFO replies across requests, late replies, hangs.

A tiny asyncio server on 127.0.0.1 speaks just enough RESP: it answers every command with a
bulk string naming it, after a delay the test sets, so replies can be made late on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from services.feature_server.stores.resp import RespClient, RespError, command, hmget, hmget_tail


@asynccontextmanager
async def fake_redis(delays: list[float]) -> AsyncIterator[int]:
    """Answer command n (0-based, over all connections) after ``delays[n]`` seconds (0 past)."""
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        import hiredis

        parser = hiredis.Reader()
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                while (cmd := parser.gets()) is not False:
                    delay = delays[count] if count < len(delays) else 0.0
                    count += 1
                    await asyncio.sleep(delay)
                    name = b" ".join(cmd)
                    writer.write(b"$%d\r\n%s\r\n" % (len(name), name))
                    await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def test_hmget_bytes_are_resp() -> None:
    tail, parts = hmget_tail([b"f1", b"_ts:v"])
    assert hmget(b"key", tail, parts) == command(b"HMGET", b"key", b"f1", b"_ts:v")
    assert command(b"PING") == b"*1\r\n$4\r\nPING\r\n"


def test_concurrent_requests_get_their_own_replies_in_order() -> None:
    async def scenario() -> None:
        async with fake_redis([]) as port:
            client = RespClient(host="127.0.0.1", port=port, timeout=2.0)
            payloads = [
                command(b"GET", b"a%d" % i) + command(b"GET", b"b%d" % i) for i in range(20)
            ]
            replies = await asyncio.gather(*(client.execute(p, 2) for p in payloads))
            assert replies == [[b"GET a%d" % i, b"GET b%d" % i] for i in range(20)]
            await client.close()

    asyncio.run(scenario())


def test_a_late_reply_fails_only_its_request() -> None:
    """The first command answers after the timeout; the next request still gets its own
    reply on the same connection (the late one is read and dropped)."""

    async def scenario() -> None:
        async with fake_redis([0.5]) as port:
            client = RespClient(host="127.0.0.1", port=port, timeout=0.3)
            with pytest.raises(TimeoutError):
                await client.execute(command(b"GET", b"slow"), 1)
            assert await client.execute(command(b"GET", b"next"), 1) == [b"GET next"]
            await client.close()

    asyncio.run(scenario())


def test_an_unreachable_server_and_a_closed_client() -> None:
    async def scenario() -> None:
        from foundation.ports import free_port

        client = RespClient(host="127.0.0.1", port=free_port(), timeout=0.3)
        with pytest.raises(ConnectionRefusedError):
            await client.execute(command(b"PING"), 1)
        async with fake_redis([]) as port:
            client = RespClient(host="127.0.0.1", port=port, timeout=1.0)
            assert await client.execute(command(b"PING"), 1) == [b"PING"]
            await client.close()
            assert await client.execute(command(b"PING"), 1) == [b"PING"]  # reconnects
            await client.close()

    asyncio.run(scenario())


def test_redis_errors_are_resp_errors() -> None:
    async def scenario() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)
            writer.write(b"-WRONGTYPE Operation against a key holding the wrong kind\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = RespClient(host="127.0.0.1", port=port, timeout=1.0)
        with pytest.raises(RespError, match="WRONGTYPE"):
            await client.execute(command(b"HMGET", b"k", b"f"), 1)
        await client.close()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())
