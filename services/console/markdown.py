"""The sticky plan comment (GitHub-flavoured markdown) as safe HTML.

Raw HTML in the markdown is never passed through: markdown-it escapes it. The few HTML forms
the plan comment uses on purpose are mapped first: hidden markers (``<!-- slipway:... -->``)
are dropped, ``<details>`` lines are dropped, a ``<summary>`` line becomes a bold line (its
text still escaped) and a bare ``<sub>``/``</sub>`` (no attributes) is kept. Links keep only
``http(s)``, relative and fragment targets. Column alignment becomes a class
(``align-right``): the console's CSP allows no inline style.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DETAILS = re.compile(r"^\s*</?details(\s+open)?\s*>\s*$", re.IGNORECASE)
_SUMMARY = re.compile(r"^\s*(<details(\s+open)?>)?\s*<summary>(?P<text>.*?)</summary>\s*$", re.I)
_SAFE_LINK = re.compile(r"^(https?://|/|#|\.)", re.IGNORECASE)
#: Table alignment as markdown-it writes it (inline styles, which the page's CSP refuses).
_ALIGN = re.compile(r' style="text-align:(left|right|center)"')


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))  # type: ignore[method-assign]
    return md


def plan_html(markdown: str) -> str:
    """``markdown`` rendered as HTML with every raw HTML tag escaped (see the module doc)."""
    lines: list[str] = []
    for line in _COMMENT.sub("", markdown).splitlines():
        summary = _SUMMARY.match(line)
        if summary is not None:
            lines += [f"**{summary.group('text').strip()}**", ""]
        elif not _DETAILS.match(line):
            lines.append(line)
    html = str(_parser().render("\n".join(lines)))
    html = html.replace("&lt;sub&gt;", "<sub>").replace("&lt;/sub&gt;", "</sub>")
    return _ALIGN.sub(r' class="align-\1"', html)
