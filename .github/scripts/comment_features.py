"""Post a feature repo pull request's data gate and ``slipway features plan`` as one comment.

Usage (feature-repo.yml, after ``make install``; SLIPWAY_FORGE / SLIPWAY_GITHUB_* set)::

    .venv/bin/python .github/scripts/comment_features.py --pr N --plan-file plan.txt
        --plan-outcome success --gx-report-dir reports/gx --validate-outcome failure

The comment is sticky (``<!-- slipway:features-plan -->``, edited in place, split past
GitHub's size limit, untouched when nothing changed), built from Slipway's own pieces:
``ci.sticky``, ``ci.gx_summary`` and the forge of ``ci.settings``. The same markdown is
appended to ``$GITHUB_STEP_SUMMARY``. Outcomes are the steps' ``success``, ``failure``,
``cancelled`` or ``skipped``; this script only reports them (the failing step fails the job).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from ci.errors import CiError
from ci.forge import open_forge
from ci.gx_summary import from_report_dir, gx_markdown
from ci.markers import digest_of
from ci.settings import load_ci_settings
from ci.sticky import upsert_sticky

KEY = "features-plan"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ICON = {"success": "✅", "failure": "❌", "cancelled": "⏹️", "skipped": "⏭️"}


def render(
    *,
    plan_text: str | None,
    plan_outcome: str,
    gx_lines: list[str],
    validate_outcome: str,
    gx_problem: str | None = None,
) -> str:
    """The comment's markdown.

    Args:
        plan_text: Output of ``slipway features plan`` (None when there is none).
        gx_lines: The data validation section (``ci.gx_summary.gx_markdown``).
        gx_problem: Why there is no validation section, if there is none.
    """
    gate = _ICON.get(validate_outcome, "❔")
    planned = _ICON.get(plan_outcome, "❔")
    lines = [
        "### Feature repo",
        "",
        f"{gate} data gate: **{validate_outcome}** · {planned} `slipway features plan`: "
        f"**{plan_outcome}**",
        "",
    ]
    if gx_lines:
        lines += gx_lines
    else:
        lines += [f"_No data validation results: {gx_problem or 'the gate did not run'}._", ""]
    lines += ["#### Plan (`slipway features plan`)", ""]
    if plan_text and plan_text.strip():
        fence = "````" if "```" in plan_text else "```"
        lines += [
            "<details open><summary>Registry changes if this is merged</summary>",
            "",
            f"{fence}text",
            _ANSI.sub("", plan_text).rstrip(),
            fence,
            "",
            "</details>",
        ]
    else:
        lines.append("_The plan produced no output; see the job log._")
    lines += ["", "Merging applies the definitions and materializes (behind the data gate)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Build the comment and upsert it on the pull request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pr", type=int, required=True, help="Pull request number.")
    parser.add_argument("--plan-file", type=Path, required=True, help="Plan output file.")
    parser.add_argument("--plan-outcome", default="success", help="Outcome of the plan step.")
    parser.add_argument("--gx-report-dir", type=Path, help="`slipway data validate` reports.")
    parser.add_argument("--validate-outcome", default="success", help="Validation outcome.")
    args = parser.parse_args(argv)

    plan_text = args.plan_file.read_text(encoding="utf-8") if args.plan_file.is_file() else None
    gx_lines: list[str] = []
    problem: str | None = None
    if args.gx_report_dir is not None:
        try:
            gx_lines = gx_markdown(from_report_dir(args.gx_report_dir))
        except CiError as exc:
            problem = str(exc)
    body = render(
        plan_text=plan_text,
        plan_outcome=args.plan_outcome,
        gx_lines=gx_lines,
        validate_outcome=args.validate_outcome,
        gx_problem=problem,
    )
    forge = open_forge(load_ci_settings())
    result = upsert_sticky(forge, number=args.pr, key=KEY, body=body, digest=digest_of(body))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(body + "\n")
    state = "updated" if result.changed else "unchanged"
    print(f"features plan comment on #{args.pr}: {state} {result.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
