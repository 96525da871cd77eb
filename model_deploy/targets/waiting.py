"""The one polling loop of the deploy targets: wait until something holds, or watch it hold.

The local target waits for a process to answer ``/ping`` and for its router to switch, and
watches a new backend stay healthy while it bakes; the SageMaker target waits for an endpoint
to reach ``InService`` or to disappear. All of them poll through :func:`poll_until`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from model_deploy.errors import TargetError

T = TypeVar("T")

Sleep = Callable[[float], None]


def poll_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float,
    on_timeout: Callable[[], str],
    sleep: Sleep = time.sleep,
) -> T:
    """Call ``probe`` every ``interval`` seconds until it returns a value, and return that.

    ``probe`` fails early by raising (``TargetError``: the process exited, the endpoint
    failed). The last probe runs at or after the deadline, so a slow first probe still gets
    one answer.

    Raises:
        TargetError: ``timeout`` seconds passed without a value; the message is
            ``on_timeout()`` (called then, so it can name the last status seen).
    """
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TargetError(on_timeout())
        sleep(min(interval, remaining))


def watch_for(
    check: Callable[[], None], *, seconds: float, interval: float, sleep: Sleep = time.sleep
) -> None:
    """Run ``check`` every ``interval`` seconds for ``seconds`` (at least once).

    ``check`` raises (``TargetError``) the moment what it watches goes wrong; returning
    means it held for the whole time.
    """
    deadline = time.monotonic() + seconds

    def probe() -> bool | None:
        check()
        return True if time.monotonic() >= deadline else None

    poll_until(
        probe,
        timeout=seconds + interval + 1.0,  # the probe ends the watch at its own deadline
        interval=interval,
        on_timeout=lambda: f"watching for {seconds:g} s did not end on time",
        sleep=sleep,
    )
