"""Background processes of the local target: spawn, identify (by command line), stop, probe.

A pid read from a state file is trusted only if ``/proc/<pid>/cmdline`` still holds the marker
recorded at spawn time (a bundle path, a routes file): a dead pid or one reused by an unrelated
process is reported as not running and is never signalled. Every process the local target starts
also carries an environment variable naming its environment's folder, so processes a crashed
deploy started (and never recorded) are found by :func:`marked_groups` and stopped.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from model_deploy.errors import TargetError
from model_deploy.targets.waiting import poll_until

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Processes spawned by this interpreter, kept so they are reaped (no zombies, no warnings)."""

HOST = "127.0.0.1"


def spawn(*, command: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start ``command`` in its own session, output appended to ``log_path`` (created).

    ``env`` adds variables to this process's environment. Returns the process id (also its
    process group id).

    Raises:
        TargetError: The program cannot be started.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with log_path.open("ab") as log:
        try:
            process = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=full_env,
                close_fds=True,
            )
        except OSError as exc:
            raise TargetError(f"cannot start {command[0]}: {exc.strerror}") from exc
    _CHILDREN[process.pid] = process
    return process.pid


def cmdline(pid: int) -> str | None:
    """The command line of a live process (arguments joined by spaces).

    None when the process does not exist or is a zombie; right after ``exec`` it can read
    empty for a moment.
    """
    _reap(pid)
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return None
        raw = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return None
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def is_running(pid: int | None, *, marker: str) -> bool:
    """Whether ``pid`` is alive and is the process we started (its command line has ``marker``).

    ``pid`` comes from a state file (None reads as not running); ``marker`` is a string unique
    to that process's command line, so a reused pid is never taken for ours.
    """
    if pid is None or pid <= 1:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        # Our own child: its pid cannot be reused before we reap it, and right after exec its
        # cmdline may still read empty, so ask the kernel whether it exited instead.
        if child.poll() is None:
            return True
        _CHILDREN.pop(pid, None)
        return False
    line = cmdline(pid)
    return line is not None and marker in line


def stop(pid: int | None, *, marker: str, timeout: float = 10.0) -> None:
    """Stop our process group: SIGTERM, ``timeout`` seconds, then SIGKILL.

    ``pid`` is a group leader started by :func:`spawn`; a foreign (``marker`` missing from its
    command line) or dead pid is left alone.
    """
    if pid is None or not is_running(pid, marker=marker):
        return
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid, marker=marker):
            return
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and is_running(pid, marker=marker):
        time.sleep(0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    process = _CHILDREN.get(pid)
    if process is not None:
        if process.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def marked_groups(*, variable: str, value: str) -> set[int]:
    """Process groups whose leader's environment holds ``variable=value`` (our processes).

    Only group leaders count (each process :func:`spawn` starts leads its own group), so the
    workers a server forks are never taken for a process of their own. Processes of other
    users (unreadable) and zombies are skipped.
    """
    return {
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _leads_marked_group(int(entry.name), variable, value)
    }


def stop_group(pgid: int, *, variable: str, value: str, timeout: float = 10.0) -> None:
    """Stop a process group found by :func:`marked_groups` (SIGTERM, then SIGKILL).

    The group is signalled only while its leader still carries ``variable=value``.
    """
    _reap(pgid)
    if not _leads_marked_group(pgid, variable, value):
        return
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pgid)
        if not _leads_marked_group(pgid, variable, value):
            return
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)


def _leads_marked_group(pid: int, variable: str, value: str) -> bool:
    """Whether ``pid`` is alive, leads its process group and carries ``variable=value``."""
    entry = Path("/proc") / str(pid)
    try:
        fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        if fields[0] == "Z" or int(fields[2]) != pid:
            return False
        environ = (entry / "environ").read_bytes()
    except (OSError, IndexError, ValueError):
        return False
    return f"{variable}={value}".encode() in environ.split(b"\0")


def port_is_free(port: int) -> bool:
    """Whether ``port`` on 127.0.0.1 can be bound (nothing listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def request_json(
    *, port: int, method: str, path: str, payload: Any = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """One HTTP request to 127.0.0.1 (standard library only: cheap to import).

    ``payload`` is the JSON body of a ``POST``. Returns the status code and the decoded JSON
    body (None when the body is not JSON).

    Raises:
        OSError: Connection refused, reset or timed out.
    """
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc}") from exc
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, None


def ping(port: int) -> bool:
    """Whether ``GET /ping`` on 127.0.0.1:``port`` answers 200."""
    try:
        status, _ = request_json(port=port, method="GET", path="/ping", timeout=2.0)
    except OSError:
        return False
    return status == 200


def invoker(port: int) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """A function scoring rows with ``POST /invocations`` on 127.0.0.1:``port``.

    The invoker raises ``TargetError`` on a refused request or a non-200 answer.
    """

    def invoke(instances: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            status, body = request_json(
                port=port, method="POST", path="/invocations",
                payload={"instances": instances}, timeout=30.0,
            )  # fmt: skip
        except OSError as exc:
            raise TargetError(f"POST /invocations on port {port} failed: {exc}") from exc
        if status != 200 or not isinstance(body, dict):
            detail = body.get("message") if isinstance(body, dict) else body
            raise TargetError(f"POST /invocations on port {port} answered {status}: {detail}")
        return body

    return invoke


def wait_ready(
    *, port: int, path: str, pid: int, marker: str, timeout: float, log_path: Path
) -> None:
    """Wait until ``GET path`` on ``port`` answers 200, failing early if the process exits.

    Raises:
        TargetError: The process exited or did not become ready in time (with its log tail).
    """

    def probe() -> bool | None:
        if not is_running(pid, marker=marker):
            raise TargetError(f"process {pid} exited while starting: {log_tail(log_path)}")
        try:
            status, _ = request_json(port=port, method="GET", path=path, timeout=1.0)
        except OSError:
            return None
        return True if status == 200 else None

    poll_until(
        probe,
        timeout=timeout,
        interval=0.1,
        on_timeout=lambda: (
            f"process {pid} did not answer {path} on port {port} within {timeout:g} s: "
            f"{log_tail(log_path)}"
        ),
    )


def log_tail(path: Path, *, lines: int = 3) -> str:
    """The last ``lines`` lines of a log file joined with `` | `` (``(no log)`` without one)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
