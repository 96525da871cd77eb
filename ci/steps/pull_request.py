"""Step 4 of a promotion: open the pull request, or adopt and update the open one.

There is at most one open pull request per environment and kind: the one whose head is the
promotion branch. Re-running updates its title, body and labels only when they differ (the
body is compared by its digest, so a re-plan at another time is not a change); labels people
added are kept.
"""

from __future__ import annotations

from typing import Literal

from ci.forge.protocol import PullRequests
from ci.forge.records import PrEdit, PullRequest
from ci.markers import parse_digest

PrAction = Literal["created", "updated", "unchanged"]


def open_or_adopt(
    forge: PullRequests,
    *,
    head: str,
    base: str,
    title: str,
    body: str,
    labels: tuple[str, ...],
    existing: PullRequest | None,
) -> tuple[PullRequest, PrAction]:
    """Make sure one open pull request from ``head`` says ``title`` and ``body``.

    Args:
        body: Body (with a digest line).
        labels: Labels it must carry.
        existing: The open pull request from ``head`` if already looked up.

    Returns:
        The pull request and what was done to it.
    """
    current = existing or forge.find_open_pr(head=head, base=base)
    if current is None:
        return forge.create_pr(head=head, base=base, title=title, body=body, labels=labels), (
            "created"
        )
    new_title = title if current.title != title else None
    stale = parse_digest(current.body) is None or parse_digest(current.body) != parse_digest(body)
    new_body = body if stale else None
    missing = [label for label in labels if label not in current.labels]
    new_labels = (*current.labels, *missing) if missing else None
    if new_title is None and new_body is None and new_labels is None:
        return current, "unchanged"
    edit = PrEdit(title=new_title, body=new_body, labels=new_labels)
    updated = forge.update_pr(number=current.number, edit=edit)
    return updated, "updated"
