"""Start-up timing of a multi-process server: when does each worker first answer ``/readyz``?

Linux only (it reads ``/proc``). A probe is a fresh TCP connection; while it is still open, the
worker that accepted it is found by matching the connection's inode in ``/proc/net/tcp`` with the
sockets in each child's ``/proc/<pid>/fd``. No server change is needed, so the same measurement
runs against any server (uvicorn's spawned workers or a pre-fork supervisor).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from foundation.ports import LOOPBACK

from .feature_servers import ManagedProcess

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class WorkerStart:
    """One worker: when its process started and when it first answered ``/readyz`` with 200.

    Both are seconds after the server process started (``started`` has the kernel's 10 ms
    resolution).
    """

    pid: int
    started: float
    ready: float

    @property
    def ready_after_start(self) -> float:
        """Seconds from the worker's own start to its first 200."""
        return self.ready - self.started


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (workers may be grandchildren of a wrapper)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if kid not in found:
                    found.append(kid)
                    todo.append(kid)
    return found


def _start_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[19])  # field 22 (starttime), counting from field 3 here


def _inode(server_port: int, client_port: int) -> str | None:
    """Inode of the server side of the connection from ``client_port`` to ``server_port``."""
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == local and parts[2] == remote:
            return parts[9]
    return None


def _owner(inode: str, pids: Sequence[int]) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(fd.path) == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


def _probe(port: int, pids: Sequence[int]) -> tuple[int, int | None] | None:
    """GET /readyz on a new connection: the status and, for a 200, the accepting process."""
    with socket.socket() as sock:
        sock.settimeout(2.0)
        try:
            sock.connect((LOOPBACK, port))
            sock.sendall(b"GET /readyz HTTP/1.1\r\nhost: probe\r\n\r\n")
            head = sock.recv(64)
        except OSError:
            return None
        if not head.startswith(b"HTTP/1.1 "):
            return None
        status = int(head[9:12])
        if status != 200:
            return status, None
        inode = _inode(port, sock.getsockname()[1])  # still connected: the server holds it
        return status, None if inode is None else _owner(inode, pids)


def worker_starts(
    args: Sequence[str],
    *,
    port: int,
    workers: int,
    env: Mapping[str, str] | None = None,
    timeout: float = 90.0,
) -> list[WorkerStart]:
    """Start the server, probe until every worker answered 200 once, stop it.

    Raises:
        RuntimeError: Not every worker answered within ``timeout`` (or the server exited).
    """
    server = ManagedProcess(args, port=port, env=env)
    begun = time.monotonic()
    with server:
        assert server.proc is not None
        pid = server.proc.pid
        base = _start_ticks(pid)
        ready: dict[int, float] = {}
        deadline = begun + timeout
        while len(ready) < workers:
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{len(ready)} of {workers} workers ready after {timeout:.0f}s")
            answer = _probe(port, [*_children(pid), pid])
            now = time.monotonic() - begun
            if answer is None or answer[0] != 200 or answer[1] is None:
                time.sleep(0.02)
                continue
            ready.setdefault(answer[1], now)
        return [
            WorkerStart(worker, (_start_ticks(worker) - base) / _TICKS, seconds)
            for worker, seconds in sorted(ready.items(), key=lambda item: item[1])
        ]
