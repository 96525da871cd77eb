"""Token auth: beyond localhost every page needs ``SLIPWAY_CONSOLE_TOKEN``.

A request carries it as ``Authorization: Bearer <token>`` or in the ``slipway_console`` cookie,
which ``/login?token=<token>`` sets (HTTP-only, same-site strict) before redirecting to the
matrix, so the token leaves the address bar at once. Tokens are compared in constant time; a
missing or wrong one gets the 401 page, which never echoes what was sent.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

COOKIE = "slipway_console"
#: Paths served without a token (the login itself, the stylesheet, the health check).
OPEN_PATHS = ("/login", "/static/", "/healthz")


def presented_token(request: Request) -> str | None:
    """The token a request carries (bearer header first, then the cookie), if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def token_matches(presented: str | None, expected: str) -> bool:
    """Whether ``presented`` is the expected token (constant-time comparison)."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def is_open(path: str) -> bool:
    """Whether ``path`` is served without a token."""
    return path == "/login" or any(path.startswith(p) for p in OPEN_PATHS if p != "/login")
