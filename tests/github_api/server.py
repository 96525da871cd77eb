"""Run the fake GitHub under uvicorn in a thread on a free 127.0.0.1 port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from foundation.ports import LOOPBACK, free_port

from .app import create_app
from .state import GitHubState


@dataclass
class RunningServer:
    """A started server: its URL and its state (shared with the server thread)."""

    url: str
    state: GitHubState

    @property
    def token(self) -> str:
        return self.state.token


@contextmanager
def serve(state: GitHubState | None = None, *, timeout: float = 10.0) -> Iterator[RunningServer]:
    """Start the server, yield it, stop it."""
    state = state or GitHubState()
    config = uvicorn.Config(
        create_app(state),
        host=LOOPBACK,
        port=free_port(),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-github", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake GitHub server did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(url=f"http://127.0.0.1:{config.port}", state=state)
    finally:
        server.should_exit = True
        thread.join(timeout)
