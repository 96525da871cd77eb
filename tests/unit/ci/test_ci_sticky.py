"""Markers and splitting long markdown (sticky comments on both forges: the forge contract)."""

from __future__ import annotations

from ci.markers import digest_of, marker, meta_line, parse_digest, parse_marker, parse_meta
from ci.sticky import render_parts, split_markdown


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
