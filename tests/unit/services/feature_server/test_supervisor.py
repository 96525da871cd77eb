"""The pre-fork supervisor, with workers that only record their pid (no server, no network).

Each case runs the supervisor in its own Python process (it installs signal handlers and forks),
bounded in time and always stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="pre-fork workers need fork")

PROGRAM = textwrap.dedent(
    """
    import logging, os, sys, time
    from pathlib import Path
    from services.feature_server.supervisor import Supervisor

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    starts = Path(sys.argv[1])
    behaviour = sys.argv[2]

    def work() -> int:
        with starts.open("a") as out:
            out.write(f"{os.getpid()}\\n")
        if behaviour == "crash-first":
            try:
                Path(f"{starts}.crashed").touch(exist_ok=False)  # atomic: one worker only
            except FileExistsError:
                pass
            else:
                return 7
        if behaviour == "fail-start":
            return 3
        while True:
            time.sleep(0.05)

    Supervisor(target=work, workers=int(sys.argv[3]), grace=5).run()
    print("stopped cleanly")
    """
)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(behaviour: str, workers: int) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", PROGRAM, str(tmp_path / "starts"), behaviour, str(workers)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    for pid in _pids(tmp_path):
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _pids(tmp_path: Path) -> list[int]:
    path = tmp_path / "starts"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_failing_start_stops_the_server_with_an_error(
    supervisor: Callable[..., subprocess.Popen[str]],
) -> None:
    proc = supervisor("fail-start", 2)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "failed to start; stopping the server" in out
    assert "WorkerStartupError" in out
    assert "stopped cleanly" not in out


def test_a_worker_that_exits_is_replaced_and_sigterm_stops_all(
    supervisor: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    proc = supervisor("crash-first", 2)
    _wait(lambda: len(_pids(tmp_path)) == 3)  # two workers, one replaced
    time.sleep(1.5)  # nothing else is restarted: live workers are never killed
    pids = _pids(tmp_path)
    assert len(pids) == 3
    dead = [pid for pid in pids if not _alive(pid)]
    assert len(dead) == 1
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"Worker process [{dead[0]}] exited with code 7; starting a new one" in out
    assert "stopped cleanly" in out
    assert not any(_alive(pid) for pid in pids)


def test_workers_stop_when_the_parent_is_killed(
    supervisor: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("parent-death signal is Linux only")
    proc = supervisor("serve", 2)
    _wait(lambda: len(_pids(tmp_path)) == 2)
    proc.kill()
    proc.wait(timeout=10)
    _wait(lambda: not any(_alive(pid) for pid in _pids(tmp_path)), timeout=10)


def test_forked_workers_generate_distinct_request_ids() -> None:
    """The id prefix is drawn per process: a fork (a worker) must not reuse the parent's."""
    from services.feature_server.fastlane import request_id

    header = b"x-request-id"
    here = {request_id([], header) for _ in range(3)}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report three ids and leave without running pytest's teardown
        try:
            os.write(write, " ".join(request_id([], header) for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        there = set(pipe.read().split())
    os.waitpid(pid, 0)
    assert len(there) == 3
    assert {i.split("-")[0] for i in here}.isdisjoint({i.split("-")[0] for i in there})
    assert request_id([(header, b"given-7")], header) == "given-7"
