"""Pre-fork workers: the parent loads everything once, then forks the workers that serve.

The parent imports Feast, builds the app and binds the listening socket (see
``services.feature_server.runner``), then forks ``workers`` children. A child starts from that
loaded state, so it answers ``/readyz`` a fraction of a second after it starts instead of
re-importing Feast (5-8 s per worker under uvicorn's spawned workers). Each child runs its own
event loop on the inherited socket; the kernel spreads connections over them.

The parent serves nothing and starts no thread. It never health-checks a busy worker by
timing a ping: a worker is restarted only when its process has exited (logged as a warning,
with its exit code), and if a worker exits with uvicorn's start-up failure code the whole
server stops with an error instead of looping. SIGTERM or SIGINT stops every worker
gracefully (SIGTERM, then SIGKILL after ``grace`` seconds). On Linux a worker also gets
SIGTERM when the parent dies, so a killed parent leaves no worker behind.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Final

from services.feature_server.errors import WorkerStartupError

STARTUP_FAILURE: Final = 3
"""The exit code of a uvicorn server whose lifespan start-up failed."""
_POLL_SECONDS: Final = 0.1
_MIN_LIFETIME: Final = 1.0
_PR_SET_PDEATHSIG: Final = 1

logger = logging.getLogger("uvicorn.error")


@dataclass(slots=True)
class _Worker:
    slot: int
    started: float


class Supervisor:
    """Forks ``workers`` children that each call ``target`` and keeps that many alive.

    ``target`` runs in the child and returns its exit code; it must not return before the
    child is asked to stop (SIGTERM/SIGINT), or the worker counts as exited and is replaced.
    """

    def __init__(self, *, target: Callable[[], int], workers: int, grace: float = 15.0) -> None:
        """Describe the pool; nothing is forked before ``run``."""
        self._target = target
        self._count = workers
        self._grace = grace
        self._workers: dict[int, _Worker] = {}
        self._stopping = False
        self._parent = os.getpid()

    def run(self) -> None:
        """Fork the workers, replace the ones that exit, stop them all on SIGTERM or SIGINT.

        Raises:
            WorkerStartupError: A worker could not start its server (the app's start-up failed).
        """
        if threading.active_count() > 1:
            logger.warning(
                "forking %d worker(s) while %d threads run in the parent; they are not copied",
                self._count,
                threading.active_count() - 1,
            )
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        failed: int | None = None
        try:
            for slot in range(self._count):
                self._fork(slot)
            failed = self._supervise()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed is not None:
            raise WorkerStartupError(
                f"feature server worker [{failed}] failed to start; see the log above"
            )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _supervise(self) -> int | None:
        """Wait for workers to exit and replace them; the pid of one that failed to start."""
        while not self._stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            if pid == 0:
                time.sleep(_POLL_SECONDS)
                continue
            worker = self._workers.pop(pid, None)
            if worker is None or self._stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == STARTUP_FAILURE:
                logger.error("Worker process [%d] failed to start; stopping the server", pid)
                return pid
            logger.warning("Worker process [%d] exited with code %d; starting a new one", pid, code)
            if time.monotonic() - worker.started < _MIN_LIFETIME:
                time.sleep(_MIN_LIFETIME)  # a worker that dies at once: do not spin
            self._fork(worker.slot)
        return None

    def _fork(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's code
            code = 1
            try:
                code = self._child()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except KeyboardInterrupt:  # Ctrl-C before the server took over SIGINT
                code = 0
            # The child's last line of defence: log the traceback, exit non-zero (the parent
            # logs the exit and starts a replacement).
            except BaseException:
                logger.exception("worker process [%d] crashed", os.getpid())
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self._workers[pid] = _Worker(slot=slot, started=time.monotonic())

    def _child(self) -> int:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _exit_with_parent(self._parent)
        return self._target()

    def _stop_all(self) -> None:
        """SIGTERM every worker, wait up to the grace period, SIGKILL the rest, reap them all."""
        for pid in self._workers:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self._grace
        while self._workers and time.monotonic() < deadline:
            self._reap()
            time.sleep(_POLL_SECONDS)
        for pid in list(self._workers):
            logger.warning("Worker process [%d] did not stop in time; killing it", pid)
            _signal(pid, signal.SIGKILL)
        while self._workers:
            self._reap(block=True)

    def _reap(self, *, block: bool = False) -> None:
        for pid in list(self._workers):
            try:
                done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done == pid:
                del self._workers[pid]


_STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return  # already gone: reaped next


def _exit_with_parent(parent: int) -> None:
    """Ask Linux to SIGTERM this process when the parent dies (elsewhere: not available)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        logger.warning("worker [%d] cannot follow its parent's death", os.getpid())
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
