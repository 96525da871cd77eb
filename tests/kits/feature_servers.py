"""Helpers for tests and benchmarks: free ports and servers in subprocesses, always stopped.

Everything binds 127.0.0.1 only. ``ManagedProcess`` terminates (then kills) its process on exit,
so a failing test never leaves a server behind.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import orjson

from services.feature_server.registry import Snapshot

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float) -> bool:
    """Wait until something accepts TCP connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class ManagedProcess:
    """A subprocess that is terminated when the ``with`` block ends.

    Attributes:
        args: Command line.
        port: Port it serves on.
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
        """Describe the process; ``start`` launches it.

        Args:
            args: Command line.
            port: Port it will listen on.
            env: Extra environment variables.
            cwd: Working directory.
            log: File for stdout and stderr (discarded when None).
        """
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
                    f"{self.args[:3]} exited with {self.proc.returncode}: {self._tail()}"
                )
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.args[:3]} not ready after {timeout:.0f}s: {self._tail()}")

    def wait_port(self, *, timeout: float = 10.0) -> None:
        """Wait until the port accepts connections."""
        if not wait_for_port(self.port, timeout=timeout):
            raise RuntimeError(f"{self.args[:3]} did not open port {self.port}")

    def stop(self) -> None:
        """Terminate, then kill after 5 seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def _tail(self) -> str:
        if self.log is None or not self.log.exists():
            return "(no log)"
        return self.log.read_text(errors="replace")[-2000:]

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


@contextmanager
def redis_server(port: int | None = None) -> Iterator[ManagedProcess]:
    """A throwaway ``redis-server`` (no persistence) on 127.0.0.1.

    Raises:
        FileNotFoundError: ``redis-server`` is not installed.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not installed")
    port = port or free_port()
    args = [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    with ManagedProcess(args, port=port) as proc:
        proc.wait_port()
        yield proc


# --- Differential testing against Feast -------------------------------------------------------


def random_requests(
    snapshot: Snapshot,
    *,
    seed: int,
    count: int,
    keys: Mapping[str, Sequence[object]],
    request_values: Mapping[str, Callable[[random.Random], object]],
) -> list[dict[str, Any]]:
    """Generate valid ``/get-online-features`` bodies from a registry snapshot.

    Feature lists draw from every view and on-demand view (without name collisions unless
    full names are on), feature services from the registry; entity columns come from ``keys``
    (mix present and missing values there) and request-time columns from ``request_values``.

    Args:
        snapshot: The registry snapshot.
        seed: Random seed (same seed, same requests).
        count: Number of requests.
        keys: Candidate values per join key.
        request_values: Value generator per request-time field.

    Returns:
        Request bodies.
    """
    from services.feature_server.plan import plan_for

    rng = random.Random(seed)
    refs = [f"{v.name}:{f}" for v in snapshot.views.values() for f in v.features]
    refs += [f"{o.name}:{f}" for o in snapshot.odfvs.values() for f in o.features]
    services = sorted(snapshot.services)
    bodies: list[dict[str, Any]] = []
    while len(bodies) < count:
        full = rng.random() < 0.4
        body: dict[str, Any] = {"full_feature_names": full}
        if services and rng.random() < 0.3:
            body["feature_service"] = rng.choice(services)
        else:
            chosen = rng.sample(refs, rng.randint(1, 6))
            if not full:
                by_feature: dict[str, str] = {}
                for ref in chosen:
                    by_feature.setdefault(ref.split(":")[1], ref)
                chosen = _avoid_feast_odfv_bugs(snapshot, list(by_feature.values()))
            body["features"] = chosen
        plan = plan_for(
            snapshot,
            features=tuple(body.get("features", ())) or None,
            service=body.get("feature_service"),
            full_feature_names=full,
        )
        rows = rng.randint(1, 6)
        columns = list(plan.required)
        if rng.random() < 0.3:  # a known join key the request does not need is echoed back
            columns += [k for k in keys if k not in columns][:1]
        entities = {c: [rng.choice(keys[c]) for _ in range(rows)] for c in columns}
        for name in plan.request_fields:
            entities[name] = [request_values[name](rng) for _ in range(rows)]
        body["entities"] = entities
        bodies.append(body)
    return bodies


def _avoid_feast_odfv_bugs(snapshot: Snapshot, refs: list[str]) -> list[str]:
    """Drop refs that trip Feast 0.67 when an on-demand view is requested with short names.

    A feature of another view named like an on-demand view's input is removed from the UDF's
    input (KeyError, 500) or shows up twice in Feast's response. This service answers those
    requests correctly, so they cannot be compared; ``test_feature_server`` covers them.
    """
    inputs: set[str] = set()
    sources: set[str] = set()
    for ref in refs:
        odfv = snapshot.odfvs.get(ref.split(":")[0])
        if odfv is not None:
            for source, features in odfv.sources:
                sources.add(source)
                inputs.update(features)
    return [
        r
        for r in refs
        if r.split(":")[0] in sources
        or r.split(":")[0] in snapshot.odfvs
        or r.split(":")[1] not in inputs
    ]


def by_name(response: Mapping[str, Any]) -> dict[str, Any]:
    """Map column name to its result (values, statuses, event_timestamps)."""
    names = response["metadata"]["feature_names"]
    return dict(zip(names, response["results"], strict=True))


def column_groups(snapshot: Snapshot, body: Mapping[str, Any]) -> dict[str, str]:
    """Column name to the view it belongs to (``""`` for join keys), from our plan."""
    from services.feature_server.plan import plan_for

    plan = plan_for(
        snapshot,
        features=tuple(body.get("features", ())) or None,
        service=body.get("feature_service"),
        full_feature_names=bool(body.get("full_feature_names")),
    )
    groups = {column: read.name for read in plan.views for _, column in read.outputs}
    groups.update({column: o.odfv.name for o in plan.odfvs for _, column in o.outputs})
    return groups


def same_value(ours: object, theirs: object) -> bool:
    """Strict equality (same type); NaN equals NaN, Feast's JSON float strings equal floats."""
    specials = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    a = specials.get(ours, ours) if isinstance(ours, str) else ours
    b = specials.get(theirs, theirs) if isinstance(theirs, str) else theirs
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


# --- Load driving ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One request of a load run: start time (monotonic), status (0: transport error), latency."""

    started: float
    status: int
    seconds: float


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

    Args:
        url: Base URL of the server.
        bodies: Request bodies to cycle through.
        connections: Concurrent connections (one worker coroutine each).
        stop: Set it to end the run.
        samples: Receives one ``Sample`` per request.
        path: Route to post to.
        timeout: Per-request timeout; a timeout is recorded as status 0.
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
                samples.append(Sample(started, status, time.monotonic() - started))
                i += 1

        await asyncio.gather(*(worker(n) for n in range(connections)))
