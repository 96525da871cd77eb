"""Text placed in GitHub-flavoured markdown (PR comments, issues, step summaries) safely.

Values come from manifests, registries and data: a ``|`` would break a table row and ``<`` or
``>`` could open HTML, so every value is escaped before it is placed in markdown.
"""

from __future__ import annotations


def escape_text(text: str) -> str:
    """Escape ``<`` and ``>`` so the text can never open or close an HTML tag."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def escape_cell(text: str) -> str:
    """Escape a value for a markdown table cell: ``|`` too, and newlines become spaces."""
    one_line = " ".join(text.splitlines())
    return escape_text(one_line.replace("|", "\\|"))


def code_span(value: str) -> str:
    """A value as inline code that cannot break a table or end its span early."""
    clean = value.replace("`", "'").replace("|", "\\|")
    return f"`{clean}`"
