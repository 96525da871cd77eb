"""The sticky plan comment rendered as safe HTML."""

from __future__ import annotations

from services.console.markdown import plan_html


def test_raw_html_is_escaped_and_markers_dropped() -> None:
    html = plan_html(
        "<!-- slipway:plan:prod/m -->\n<!-- slipway:digest:abcdef0123 -->\n"
        "### Plan `prod/m`\n\n<script>alert(1)</script>\n\n"
        '<img src=x onerror="alert(2)">\n\n[bad](javascript:alert(3)) [ok](https://x.test/pr/1)\n'
    )
    assert "slipway:" not in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert 'href="https://x.test/pr/1"' in html
    assert "<h3>Plan <code>prod/m</code></h3>" in html


def test_sub_is_kept_without_attributes() -> None:
    html = plan_html('`roc_auc` <sub>higher is better</sub> <sub class="x">no</sub>')
    assert "<sub>higher is better</sub>" in html
    assert "<sub class" not in html


def test_details_become_bold_lines_and_tables_carry_no_inline_style() -> None:
    html = plan_html(
        "<details><summary>Evidence <b>x</b></summary>\n\n"
        "| a | b |\n|---|---:|\n| 1 | 2 |\n\n</details>\n"
    )
    assert "<details" not in html
    assert "<strong>Evidence &lt;b&gt;x&lt;/b&gt;</strong>" in html
    assert "<table>" in html
    assert "style=" not in html
    assert '<td class="align-right">2</td>' in html
