"""The PyGithub plumbing of the GitHub forge: the lazy client, retries and error mapping.

Nothing touches the network at import or construction: the PyGithub client is built on the
first call. Every call goes through :func:`~ci.forge.retry.call_with_retry` (PyGithub's own
retries are off), so 5xx, 429 and rate-limit 403 answers are retried with bounded backoff and
Retry-After is honoured. The token is a ``SecretStr`` and appears in no message, log line or
``repr``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import requests
from github import Auth, Github, GithubException
from github.GithubException import BadCredentialsException, UnknownObjectException

from ci.errors import CiConfigError, ForgeError, ForgeNotFoundError
from ci.forge.records import short
from ci.forge.retry import RetryPolicy, Transient, call_with_retry, parse_retry_after
from ci.settings import CiSettings

if TYPE_CHECKING:
    from github.Repository import Repository

T = TypeVar("T")


def classify_github(exc: Exception) -> Transient | None:
    """Why a PyGithub or requests failure is worth retrying, or None for a real answer (4xx)."""
    if isinstance(exc, GithubException):
        headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
        retry_after = parse_retry_after(headers.get("retry-after"))
        if retry_after is None and headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset", "")
            retry_after = max(0.0, float(reset) - time.time()) if reset.isdigit() else None
        status = exc.status
        if status == 429:
            return Transient("HTTP 429", retry_after=retry_after)
        message = str(exc.data.get("message", "")) if isinstance(exc.data, dict) else ""
        if status == 403 and (retry_after is not None or "rate limit" in message.lower()):
            return Transient("HTTP 403 rate limit", retry_after=retry_after)
        if isinstance(status, int) and 500 <= status < 600:
            return Transient(f"HTTP {status}", retry_after=retry_after, may_have_applied=True)
        return None
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return Transient(f"network error ({type(exc).__name__})", may_have_applied=True)
    return None


class GitHubClient:
    """Holds the lazily built PyGithub repository and runs every call with retries.

    ``settings`` gives the token, ``owner/name``, API URL and retry bounds (``policy``
    overrides the bounds); ``sleep`` waits between retries (injected in tests).

    Raises:
        CiConfigError: The token or the repository is not set.
    """

    name = "github"

    def __init__(
        self,
        *,
        settings: CiSettings,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy | None = None,
    ) -> None:
        if settings.github_token is None:
            raise CiConfigError("the github forge needs SLIPWAY_GITHUB_TOKEN (or GITHUB_TOKEN)")
        if settings.github_repository is None:
            raise CiConfigError(
                "the github forge needs SLIPWAY_GITHUB_REPOSITORY (owner/name, or "
                "GITHUB_REPOSITORY)"
            )
        self._settings = settings
        self.repository = settings.github_repository
        self.where = settings.github_repository
        self.api_url = settings.github_api_url.rstrip("/")
        self._sleep = sleep
        self._policy = policy or RetryPolicy(
            max_attempts=settings.github_max_attempts,
            max_delay=min(30.0, settings.github_max_wait),
            max_retry_after=settings.github_max_wait,
        )
        self._client: Github | None = None
        self._repo: Repository | None = None
        self._login: str | None = None

    def __repr__(self) -> str:
        return f"GitHubForge(repository={self.repository!r}, api_url={self.api_url!r})"

    def _gh(self) -> Github:
        if self._client is None:
            token = self._settings.github_token
            assert token is not None  # checked in __init__
            self._client = Github(
                base_url=self.api_url,
                auth=Auth.Token(token.get_secret_value()),
                retry=None,
                timeout=max(1, math.ceil(self._settings.github_timeout)),
                per_page=100,
                lazy=True,
                seconds_between_requests=None,
                seconds_between_writes=self._settings.github_seconds_between_writes or None,
            )
        return self._client

    def _r(self) -> Repository:
        if self._repo is None:
            self._repo = self._gh().get_repo(self.repository)
        return self._repo

    def _user(self) -> str:
        """Login of the token's user (read once)."""
        if self._login is None:
            self._login = self._call(
                "read the token's user", lambda: str(self._gh().get_user().login)
            )
        return self._login

    def _call(
        self,
        what: str,
        operation: Callable[[], T],
        *,
        idempotent: bool = True,
        recheck: Callable[[], T | None] | None = None,
    ) -> T:
        try:
            return call_with_retry(
                operation,
                what=what,
                classify=classify_github,
                policy=self._policy,
                sleep=self._sleep,
                idempotent=idempotent,
                recheck=recheck,
            )
        except UnknownObjectException as exc:
            raise ForgeNotFoundError(f"{what}: not found in {self.repository}", status=404) from exc
        except BadCredentialsException as exc:
            raise ForgeError(
                f"{what}: GitHub rejected the token (HTTP 401); check SLIPWAY_GITHUB_TOKEN",
                status=401,
            ) from exc
        except GithubException as exc:
            raise ForgeError(
                f"{what}: GitHub answered HTTP {exc.status}: {_message(exc)}", status=exc.status
            ) from exc
        except requests.RequestException as exc:
            raise ForgeError(f"{what}: cannot reach {self.api_url}: {type(exc).__name__}") from exc


def _message(exc: GithubException) -> str:
    data = exc.data
    if not isinstance(data, dict):
        return "no message"
    text = str(data.get("message") or "no message")
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        details = [
            str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e)
            for e in errors
        ]
        text += " (" + "; ".join(details) + ")"
    return short(text, 300)
