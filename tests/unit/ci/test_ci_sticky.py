"""Markers, splitting long markdown, and sticky comments kept in place (on the local forge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.forge.local import LocalForge
from ci.markers import digest_of, marker, meta_line, parse_digest, parse_marker, parse_meta
from ci.sticky import render_parts, split_markdown, upsert_sticky


def test_markers_parse_keys_and_parts() -> None:
    assert marker("plan:staging") == "<!-- slipway:plan:staging -->"
    assert parse_marker(marker("plan:staging")) == ("plan:staging", 1)
    assert parse_marker(marker("plan:staging", part=3) + "\nbody") == ("plan:staging", 3)
    assert parse_marker("> <!-- slipway:plan:staging -->") is None
    assert parse_marker("plain") is None


def test_meta_round_trips_and_cannot_close_the_comment_early() -> None:
    line = meta_line({"why": "a --> b", "n": 1})
    assert "-->" not in line[: -len(" -->")]
    assert parse_meta(f"x\n{line}\ny") == {"why": "a --> b", "n": 1}
    assert parse_meta("<!-- slipway:meta {broken -->") is None
    assert parse_digest(f"a\n<!-- slipway:digest:{digest_of('x')} -->\n") == digest_of("x")


def test_short_text_is_one_chunk() -> None:
    assert split_markdown("hello\n", limit=500) == ["hello\n"]


def test_chunks_respect_the_limit_and_keep_fences_and_details_balanced() -> None:
    rows = [f"| row {i} | {'x' * 40} |\n" for i in range(60)]
    diff = ["```diff\n", *[f"+line {i} {'y' * 30}\n" for i in range(60)], "```\n"]
    text = "# Plan\n\n<details><summary>Evidence</summary>\n\n" + "".join(rows) + "".join(diff)
    text += "</details>\n\nfooter\n"
    chunks = split_markdown(text, limit=800)
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(chunk) <= 800
        assert chunk.count("<details") == chunk.count("</details>")
        assert chunk.count("```") % 2 == 0
    joined = "".join(chunks)
    for line in rows + diff[1:-1]:
        assert line in joined


def test_a_line_longer_than_the_limit_is_cut() -> None:
    chunks = split_markdown("a" * 1000 + "\n", limit=300)
    assert all(len(c) <= 300 for c in chunks)
    assert "".join(chunks).replace("\n", "") == "a" * 1000


def test_parts_carry_markers_digest_and_numbering() -> None:
    parts = render_parts(key="plan:dev", body="x\n" * 600, digest="abc123abc123", limit=700)
    assert len(parts) > 1
    for number, part in enumerate(parts, start=1):
        assert len(part) <= 700
        assert parse_marker(part) == ("plan:dev", number)
        assert parse_digest(part) == "abc123abc123"
        assert f"Part {number} of {len(parts)}" in part


@pytest.fixture
def forge_with_pr(repo: Path) -> tuple[LocalForge, int]:
    forge = LocalForge(repo=repo)
    forge.push_file(branch="b", base="main", path="f.txt", content="x\n", message="m", reset=False)
    return forge, forge.create_pr(head="b", base="main", title="t", body="", labels=()).number


def test_sticky_comment_is_created_once_then_edited_in_place(
    forge_with_pr: tuple[LocalForge, int],
) -> None:
    forge, number = forge_with_pr
    forge.create_comment(number=number, body="a human comment")
    first = upsert_sticky(forge, number=number, key="plan:dev", body="v1\n", digest="d1d1d1d1")
    assert first.created
    assert not first.edited
    again = upsert_sticky(
        forge, number=number, key="plan:dev", body="v1 later\n", digest="d1d1d1d1"
    )
    assert not again.changed, "same digest: nothing is sent"
    edited = upsert_sticky(forge, number=number, key="plan:dev", body="v2\n", digest="d2d2d2d2")
    assert edited.edited == first.created
    assert not edited.created
    bodies = [c.body for c in forge.list_comments(number=number)]
    assert len(bodies) == 2
    assert bodies[0] == "a human comment"
    assert "v2" in bodies[1]


def test_sticky_grows_into_parts_and_shrinks_back(forge_with_pr: tuple[LocalForge, int]) -> None:
    forge, number = forge_with_pr
    long_body = "".join(f"line {i} {'z' * 50}\n" for i in range(100))
    grown = upsert_sticky(
        forge, number=number, key="plan:dev", body=long_body, digest="aaaa1111", limit=1000
    )
    assert len(grown.comments) > 3
    assert len(grown.created) == len(grown.comments)
    shrunk = upsert_sticky(
        forge, number=number, key="plan:dev", body="short\n", digest="bbbb2222", limit=1000
    )
    assert len(shrunk.comments) == 1
    assert shrunk.edited == [grown.comments[0].id]
    assert sorted(shrunk.deleted) == sorted(c.id for c in grown.comments[1:])
    assert [c.id for c in forge.list_comments(number=number)] == [grown.comments[0].id]


def test_duplicate_sticky_comments_are_cleaned_up(forge_with_pr: tuple[LocalForge, int]) -> None:
    forge, number = forge_with_pr
    for _ in range(2):
        forge.create_comment(number=number, body=marker("plan:dev") + "\nold")
    result = upsert_sticky(forge, number=number, key="plan:dev", body="new\n", digest="cccc3333")
    assert len(result.deleted) == 1
    assert len(result.edited) == 1
    assert len(forge.list_comments(number=number)) == 1
