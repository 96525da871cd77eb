"""Bounded retries for forge calls: exponential backoff with jitter, honouring Retry-After.

A call is retried only when the failure is transient (5xx, 429, a rate-limit 403, a network
error). Waits grow exponentially with jitter and are capped; a Retry-After longer than the cap
is not slept through: the call fails at once with :class:`TransientForgeError`, whose message
says when to try again. A non-idempotent request (a POST) that failed with a 5xx may have been
applied by the server anyway, so before repeating it a ``recheck`` can look for its result.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from ci.errors import TransientForgeError

T = TypeVar("T")
_log = logging.getLogger("ci.forge")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry.

    Attributes:
        max_attempts: Attempts in total, the first one included.
        base_delay: First backoff wait, in seconds (doubled on each retry).
        max_delay: Longest backoff wait.
        max_retry_after: Longest Retry-After (or rate-limit reset) honoured; longer fails fast.
        max_total: Longest total time spent waiting across retries.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    max_total: float = 180.0

    def backoff(self, retry: int, *, rng: Callable[[], float] = random.random) -> float:
        """Backoff before retry number ``retry`` (1-based): half fixed, half random.

        Args:
            rng: Uniform random number in [0, 1).
        """
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return ceiling / 2 + rng() * ceiling / 2


@dataclass(frozen=True)
class Transient:
    """Why a failure is worth retrying.

    Attributes:
        reason: Short text (``HTTP 502``, ``connection reset``).
        retry_after: Seconds the server asked to wait, if it said.
        may_have_applied: The server may have carried the request out (5xx, timeout).
    """

    reason: str
    retry_after: float | None = None
    may_have_applied: bool = False


Classifier = Callable[[Exception], Transient | None]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date).

    Args:
        now: Current Unix time (for dates).

    Returns:
        Seconds (never negative), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def call_with_retry(
    operation: Callable[[], T],
    *,
    what: str,
    classify: Classifier,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    idempotent: bool = True,
    recheck: Callable[[], T | None] | None = None,
) -> T:
    """Run ``operation``, retrying transient failures within ``policy``.

    Args:
        what: What it does, for messages (``create pull request``).
        classify: Says whether an exception is transient (None: raise it as is).
        sleep: Waits (injected in tests).
        idempotent: Whether repeating the call is harmless (GET, PUT, PATCH, DELETE).
        recheck: For a non-idempotent call: finds its result if the server applied it anyway.

    Raises:
        TransientForgeError: Still failing after the last attempt, or the wait asked for is
            longer than the policy allows.
    """
    waited = 0.0
    attempt = 1
    while True:
        try:
            return operation()
        except Exception as exc:
            transient = classify(exc)
            if transient is None:
                raise
            if attempt >= policy.max_attempts:
                raise TransientForgeError(
                    f"{what}: the forge kept failing ({transient.reason}) after {attempt} "
                    "attempts; nothing was closed or recreated, re-run to continue"
                ) from exc
            delay = _delay(transient, attempt=attempt, policy=policy, what=what, exc=exc)
            if waited + delay > policy.max_total:
                raise TransientForgeError(
                    f"{what}: the forge kept failing ({transient.reason}); retrying would take "
                    f"over {policy.max_total:g} s in total, re-run later"
                ) from exc
            _log.warning(
                "%s: %s; retry %d/%d in %.1f s",
                what,
                transient.reason,
                attempt,
                policy.max_attempts - 1,
                delay,
            )
            sleep(delay)
            waited += delay
            attempt += 1
            if not idempotent and transient.may_have_applied and recheck is not None:
                found = recheck()
                if found is not None:
                    _log.warning("%s: the earlier attempt went through; using its result", what)
                    return found


def _delay(
    transient: Transient, *, attempt: int, policy: RetryPolicy, what: str, exc: Exception
) -> float:
    if transient.retry_after is None:
        return policy.backoff(attempt)
    if transient.retry_after > policy.max_retry_after:
        raise TransientForgeError(
            f"{what}: rate limited ({transient.reason}); the forge asks to wait "
            f"{transient.retry_after:.0f} s, more than the {policy.max_retry_after:g} s allowed; "
            "re-run later"
        ) from exc
    return transient.retry_after
