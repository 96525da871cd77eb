"""Sticky comments: one marked comment per key, edited in place, split when too long.

GitHub refuses bodies over 65,535 characters, so a long body is split at line boundaries into
numbered parts (open code fences and ``<details>`` blocks are closed at the cut and reopened in
the next part). Part 1 carries ``<!-- slipway:<key> -->``, part k ``<!-- slipway:<key>:part:k
-->``. Updating edits the parts whose text changed, creates missing ones, and deletes parts
beyond the new count (and duplicates of a part, should an earlier run have left any). When the
recorded digest matches and every part is in place, nothing is sent at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ci.forge.protocol import Comments
from ci.forge.records import MAX_BODY_CHARS, Comment
from ci.markers import digest_line, marker, parse_digest, parse_marker

#: Characters kept free in each part for the marker, digest and "Part k of n" lines.
HEADER_RESERVE = 300
_CONTINUED = "<details open><summary>(continued)</summary>\n\n"


@dataclass
class StickyResult:
    """What an update did.

    Attributes:
        comments: The sticky comments after the update, part 1 first.
        created: Ids of comments created.
        edited: Ids of comments edited.
        deleted: Ids of comments deleted.
    """

    comments: list[Comment] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    edited: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was sent to the forge."""
        return bool(self.created or self.edited or self.deleted)

    @property
    def url(self) -> str:
        """Address of part 1."""
        return self.comments[0].url if self.comments else ""


def split_markdown(text: str, *, limit: int) -> list[str]:
    """Cut markdown into chunks of at most ``limit`` characters, at line boundaries.

    Args:
        limit: Largest chunk (at least 200).

    Returns:
        The chunks (one when ``text`` fits); fences and ``<details>`` stay balanced.
    """
    if limit < 200:
        raise ValueError("limit must be at least 200 characters")
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    fence: str | None = None
    depth = 0
    for line in _pieces(text, width=limit // 2):
        next_fence, next_depth = _after(line, fence, depth)
        if current and size + len(line) + len(_closers(next_fence, next_depth)) > limit:
            chunks.append("".join(current) + _closers(fence, depth))
            opener = _openers(fence, depth)
            current, size = [opener], len(opener)
        current.append(line)
        size += len(line)
        fence, depth = next_fence, next_depth
    if current:
        chunks.append("".join(current))
    return chunks


def render_parts(*, key: str, body: str, digest: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """The full text of every part of a sticky body.

    Args:
        key: Marker key (``plan:staging``).
        digest: Digest of what ``body`` was rendered from.
        limit: Largest comment GitHub accepts.

    Returns:
        One text per part, each within ``limit``.
    """
    chunks = split_markdown(body, limit=limit - HEADER_RESERVE)
    total = len(chunks)
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        header = [marker(key, part=number), digest_line(digest)]
        if total > 1:
            header.append(f"<sub>Part {number} of {total}</sub>\n")
        parts.append("\n".join(header) + "\n" + chunk)
    return parts


def upsert_sticky(
    forge: Comments, *, number: int, key: str, body: str, digest: str, limit: int = MAX_BODY_CHARS
) -> StickyResult:
    """Create or update the sticky comment ``key`` on pull request or issue ``number``.

    Args:
        digest: Digest of the inputs (same digest and parts in place: nothing is sent).

    Returns:
        What was created, edited and deleted.
    """
    texts = render_parts(key=key, body=body, digest=digest, limit=limit)
    found: dict[int, list[Comment]] = {}
    for comment in forge.list_comments(number=number):
        parsed = parse_marker(comment.body)
        if parsed is not None and parsed[0] == key:
            found.setdefault(parsed[1], []).append(comment)
    result = StickyResult()
    current = all(
        len(found.get(part, [])) == 1 and parse_digest(found[part][0].body) == digest
        for part in range(1, len(texts) + 1)
    ) and set(found) == set(range(1, len(texts) + 1))
    if current:
        result.comments = [found[part][0] for part in range(1, len(texts) + 1)]
        return result
    for part, text in enumerate(texts, start=1):
        same = found.pop(part, [])
        if same:
            keep, extra = same[0], same[1:]
            if keep.body != text:
                keep = forge.edit_comment(number=number, comment_id=keep.id, body=text)
                result.edited.append(keep.id)
            for duplicate in extra:
                forge.delete_comment(number=number, comment_id=duplicate.id)
                result.deleted.append(duplicate.id)
        else:
            keep = forge.create_comment(number=number, body=text)
            result.created.append(keep.id)
        result.comments.append(keep)
    for stale in found.values():
        for comment in stale:
            forge.delete_comment(number=number, comment_id=comment.id)
            result.deleted.append(comment.id)
    return result


def _pieces(text: str, *, width: int) -> list[str]:
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line) > width:
            pieces.append(line[:width] + "\n")
            line = line[width:]
        pieces.append(line)
    return pieces


def _after(line: str, fence: str | None, depth: int) -> tuple[str | None, int]:
    stripped = line.strip()
    if stripped.startswith("```"):
        return (None if fence else stripped), depth
    if fence is None:
        depth += stripped.count("<details") - stripped.count("</details>")
    return fence, max(depth, 0)


def _closers(fence: str | None, depth: int) -> str:
    return ("\n```\n" if fence else "") + "\n</details>\n" * depth


def _openers(fence: str | None, depth: int) -> str:
    return _CONTINUED * depth + (f"{fence}\n" if fence else "")
