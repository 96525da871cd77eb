"""One main job at a time on this machine: its endpoints listen on the manifests' fixed ports.

``slipway demo`` deploys every (environment, model) on the port its manifest names (8601 to
8613), so two demos at once (two pytest-xdist workers, or two checkouts' suites) would take
each other's ports. A test that runs the demo holds :func:`demo_ports` for as long as the
demo's endpoints may be up; another waits for it (bounded).
"""

from __future__ import annotations

import fcntl
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK = Path(tempfile.gettempdir()) / "slipway-demo-ports.lock"


@contextmanager
def demo_ports(*, timeout: float = 1800.0) -> Iterator[None]:
    """Hold the machine-wide demo lock; ``TimeoutError`` after ``timeout`` seconds of waiting."""
    deadline = time.monotonic() + timeout
    with LOCK.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    held = f"another main job held {LOCK} for {timeout:.0f} s"
                    raise TimeoutError(held) from None
                time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
