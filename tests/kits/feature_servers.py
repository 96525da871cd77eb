"""Feature servers (Slipway's, Feast's, a Redis) in subprocesses for tests and benchmarks.

Everything binds 127.0.0.1 on a free port. ``ManagedProcess`` terminates (then kills) its
process when the ``with`` block ends, so a failing test never leaves a server behind.
``drive_load`` is the load driver of the load tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import orjson

from foundation.ports import LOOPBACK, free_port

from .servers import wait_for_port

HOST = LOOPBACK
RESTART_LINE = r"(?i)died|restart|exited|kill|timed? ?out|not ready|failed to start"
"""A line of a server log that tells of a worker that did not survive (uvicorn's or ours)."""
WORKER_START = r"Started server process \[(\d+)\]"
"""uvicorn's line for each worker whose server started (old and new runners alike)."""


class ManagedProcess:
    """A subprocess that is terminated when the ``with`` block ends.

    Attributes:
        args: Command line.
        port: Port it serves on.
        proc: The running process, or None.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log: Path | None = None,
    ) -> None:
        """Describe the process; ``start`` launches it (stdout and stderr go to ``log``)."""
        self.args = list(args)
        self.port = port
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> ManagedProcess:
        """Launch the process."""
        out = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.args, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
        )
        return self

    def wait_http(self, path: str, *, timeout: float = 60.0, status: int = 200) -> None:
        """Wait until ``GET path`` answers with ``status``.

        Raises:
            RuntimeError: The process died or did not get ready in time (log tail included).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.args[:3]} exited with {self.proc.returncode}: {self.tail()}"
                )
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.args[:3]} not ready after {timeout:.0f}s: {self.tail()}")

    def wait_port(self, *, timeout: float = 10.0) -> None:
        """Wait until the port accepts connections (the test fails after ``timeout``)."""
        wait_for_port(self.port, timeout=timeout, what=" ".join(self.args[:3]))

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): it keeps its connections but answers nothing."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo ``pause`` (SIGCONT)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Terminate, then kill after 5 seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def tail(self, chars: int = 2000) -> str:
        """The end of the log."""
        if self.log is None or not self.log.exists():
            return "(no log)"
        return self.log.read_text(errors="replace")[-chars:]

    def __enter__(self) -> ManagedProcess:
        return self.start() if self.proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def service_process(
    *,
    repo: Path,
    env_name: str = "local",
    port: int | None = None,
    workers: int = 1,
    extra_env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> ManagedProcess:
    """The Slipway feature service (``python -m services.feature_server``) as a managed process."""
    port = port or free_port()
    env = {
        "SLIPWAY_SERVER_FEATURE_REPO": str(repo),
        "SLIPWAY_SERVER_FEATURE_ENV": env_name,
        **(extra_env or {}),
    }
    args = [sys.executable, "-m", "services.feature_server", "--host", HOST, "--port", str(port)]
    args += ["--workers", str(workers)]
    return ManagedProcess(args, port=port, env=env, log=log)


def feast_process(
    *,
    repo: Path,
    port: int | None = None,
    workers: int = 1,
    extra_args: Sequence[str] = (),
    log: Path | None = None,
) -> ManagedProcess:
    """Feast's own ``feast serve`` on the same repo as a managed process."""
    port = port or free_port()
    feast = Path(sys.executable).with_name("feast")
    args = [str(feast), "-c", str(repo), "serve", "-h", HOST, "-p", str(port)]
    args += ["-w", str(workers), "--no-access-log", *extra_args]
    return ManagedProcess(args, port=port, log=log)


def redis_process(port: int | None = None) -> ManagedProcess:
    """A ``redis-server`` (no persistence) that a test may stop, pause and restart on one port.

    For a Redis that only has to be there, ``kits.servers.redis_server`` is simpler.

    Raises:
        FileNotFoundError: ``redis-server`` is not installed.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not installed")
    port = port or free_port()
    args = [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    return ManagedProcess(args, port=port)


@dataclass(frozen=True, slots=True)
class Sample:
    """One request of a load run: start time (monotonic), status (0: transport error), latency.

    ``body`` is the index of the request body in ``drive_load``'s ``bodies``.
    """

    started: float
    status: int
    seconds: float
    body: int = -1


async def drive_load(
    url: str,
    bodies: Sequence[Mapping[str, Any]],
    *,
    connections: int,
    stop: asyncio.Event,
    samples: list[Sample],
    path: str = "/get-online-features",
    timeout: float = 5.0,
) -> None:
    """POST the bodies round-robin over ``connections`` keep-alive connections until ``stop``.

    Each request adds one ``Sample`` to ``samples``; a transport error or a request slower
    than ``timeout`` is recorded with status 0.
    """
    payloads = [orjson.dumps(b) for b in bodies]
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:

        async def worker(offset: int) -> None:
            i = offset
            while not stop.is_set():
                started = time.monotonic()
                try:
                    response = await client.post(
                        path, content=payloads[i % len(payloads)], headers=headers
                    )
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                elapsed = time.monotonic() - started
                samples.append(Sample(started, status, elapsed, i % len(payloads)))
                i += 1

        await asyncio.gather(*(worker(n) for n in range(connections)))


def error_detail(response: Any) -> dict[str, Any]:
    """The error object of a feature server reply (Feast's format: a JSON string holding it).

    Works for Slipway's replies (``message``, ``code``, ``request_id``, plus ``module`` and
    ``class`` where Feast has a class) and for Feast's ``FeastError`` replies.
    """
    body = response.json()
    assert isinstance(body, str), f"not Feast's error format: {response.text[:200]}"
    detail = orjson.loads(body)
    assert isinstance(detail, dict)
    return detail
