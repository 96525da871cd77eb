"""Bounded retries: backoff with jitter, Retry-After, fail fast, and re-checking lost creates."""

from __future__ import annotations

import pytest
import requests
from github import GithubException

from ci.errors import TransientForgeError
from ci.forge.github.client import classify_github
from ci.forge.retry import RetryPolicy, Transient, call_with_retry, parse_retry_after


def flaky(failures: list[Exception], value: str = "ok"):
    calls = {"n": 0}

    def operation() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return value

    return operation, calls


def gh(status: int, headers: dict[str, str] | None = None, message: str = "x") -> GithubException:
    return GithubException(status, {"message": message}, headers or {})


def test_backoff_doubles_within_jittered_bounds() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert policy.backoff(1, rng=lambda: 0.0) == 0.5
    assert policy.backoff(1, rng=lambda: 0.999) < 1.0
    assert policy.backoff(3, rng=lambda: 0.0) == 2.0
    assert policy.backoff(10, rng=lambda: 0.999) < 5.0


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


def test_transient_failures_are_retried_then_succeed() -> None:
    op, calls = flaky([gh(502), gh(503)])
    sleeps: list[float] = []
    result = call_with_retry(
        op, what="read", classify=classify_github, policy=RetryPolicy(), sleep=sleeps.append
    )
    assert result == "ok"
    assert calls["n"] == 3
    assert len(sleeps) == 2


def test_retry_after_is_slept_exactly_and_long_ones_fail_fast() -> None:
    op, _ = flaky([gh(429, {"Retry-After": "7"})])
    sleeps: list[float] = []
    call_with_retry(
        op, what="read", classify=classify_github, policy=RetryPolicy(), sleep=sleeps.append
    )
    assert sleeps == [7.0]
    op, calls = flaky([gh(429, {"retry-after": "600"})])
    with pytest.raises(TransientForgeError, match="wait 600 s, more than the 60 s allowed"):
        call_with_retry(
            op, what="read", classify=classify_github, policy=RetryPolicy(), sleep=sleeps.append
        )
    assert calls["n"] == 1


def test_attempts_and_total_wait_are_bounded() -> None:
    op, calls = flaky([gh(502)] * 10)
    with pytest.raises(TransientForgeError, match="after 3 attempts; nothing was closed"):
        call_with_retry(
            op,
            what="merge",
            classify=classify_github,
            policy=RetryPolicy(max_attempts=3),
            sleep=lambda _: None,
        )
    assert calls["n"] == 3
    op, _ = flaky([gh(429, {"Retry-After": "50"})] * 5)
    with pytest.raises(TransientForgeError, match="over 60 s in total"):
        call_with_retry(
            op,
            what="read",
            classify=classify_github,
            policy=RetryPolicy(max_total=60),
            sleep=lambda _: None,
        )


def test_client_errors_are_not_retried() -> None:
    op, calls = flaky([gh(422)])
    with pytest.raises(GithubException):
        call_with_retry(
            op, what="create", classify=classify_github, policy=RetryPolicy(), sleep=lambda _: None
        )
    assert calls["n"] == 1


def test_a_lost_create_is_found_instead_of_repeated() -> None:
    op, calls = flaky([gh(502)], value="second")
    result = call_with_retry(
        op,
        what="create",
        classify=classify_github,
        policy=RetryPolicy(),
        sleep=lambda _: None,
        idempotent=False,
        recheck=lambda: "found",
    )
    assert result == "found"
    assert calls["n"] == 1
    op, calls = flaky([gh(429)], value="second")
    result = call_with_retry(
        op,
        what="create",
        classify=classify_github,
        policy=RetryPolicy(),
        sleep=lambda _: None,
        idempotent=False,
        recheck=lambda: "found",
    )
    assert result == "second", "a 429 was never applied: no recheck, just retry"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (gh(500), Transient("HTTP 500", may_have_applied=True)),
        (gh(429, {"Retry-After": "2"}), Transient("HTTP 429", retry_after=2.0)),
        (
            gh(403, message="You have exceeded a secondary rate limit"),
            Transient("HTTP 403 rate limit"),
        ),
        (gh(403, message="Resource not accessible by integration"), None),
        (gh(404), None),
        (
            requests.ConnectionError("reset"),
            Transient("network error (ConnectionError)", may_have_applied=True),
        ),
        (ValueError("bug"), None),
    ],
)
def test_classification(exc: Exception, expected: Transient | None) -> None:
    assert classify_github(exc) == expected
