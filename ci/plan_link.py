"""The pull request body's link to the sticky plan comment (the body never carries a plan).

A promotion, revert or rollback body holds one marked line, ``<!-- slipway:plan-link -->``,
saying where the plan is. ``slipway ci comment-plan`` rewrites that line with a link to each
environment's sticky comment and the head it planned, so the body can never contradict the
comment: there is only one plan, edited in place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLAN_LINK = "<!-- slipway:plan-link -->"
_LINE = re.compile(r"^" + re.escape(PLAN_LINK) + r".*$", re.MULTILINE)


def pending_link() -> str:
    """The line a new body carries: the plan is not posted yet."""
    return (
        f"{PLAN_LINK}**Deploy plan:** not posted yet; `slipway ci comment-plan` posts it as a "
        "comment on this pull request and links it here."
    )


def plan_link(links: Mapping[str, str], *, head_sha: str) -> str:
    """The line linking each environment's plan comment (``links``: environment -> URL)."""
    where = " · ".join(f"[`{env}`]({url})" for env, url in links.items())
    return (
        f"{PLAN_LINK}**Deploy plan:** {where} (planned at `{head_sha[:12]}`; the comment is "
        "edited in place on every push)"
    )


def with_plan_link(body: str, line: str) -> str | None:
    """``body`` with its plan-link line replaced by ``line``.

    Returns:
        The new body, or None when ``body`` has no plan-link line or already has ``line``.
    """
    match = _LINE.search(body)
    if match is None or match.group(0) == line:
        return None
    return body[: match.start()] + line + body[match.end() :]
