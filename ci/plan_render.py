"""What the plan comment adds to ``model_deploy``'s plan markdown: provenance and owners.

The deployer's plan already names the change kind (model promotion, config change, rollback,
emergency), every manifest field and every policy field that changes, and what needs the
owners' approval. The comment adds where the policies were read from (the base branch), the
model's lineage (the build commit; ``git unknown`` and dirty trees are called out), the
recorded emergency reason, and which paths need their owners' approval with who approved.
"""

from __future__ import annotations

from ci.governance import Governance, OwnerCheck
from foundation.markdown import code_span, escape_cell
from model_deploy.plan import Plan

KIND_WORDS = {
    "promotion": "model promotion",
    "config": "config change",
    "rollback": "rollback",
    "emergency": "emergency change",
    "none": "no change",
}
#: What ``git_sha`` says when the build could not tell its commit.
UNKNOWN_GIT = frozenset({"", "unknown"})


def change_kind(plan: Plan) -> str:
    """The change in words (``config change + policy change``)."""
    words = KIND_WORDS.get(plan.change_kind, plan.change_kind)
    return words + (" + policy change" if plan.policy_changes else "")


def change_section(plan: Plan) -> list[str]:
    """The policy source, the model's lineage and the emergency reason."""
    source = (
        "the base branch (this pull request cannot change the rules that judge it)"
        if plan.policy_source == "separate"
        else "the manifest itself"
    )
    lines = ["#### Provenance", "", f"- **Change:** {change_kind(plan)}"]
    lines.append(f"- **Policies read from:** {source}")
    lines += _lineage(plan)
    if plan.emergency:
        lines.append(
            f"- **Emergency:** {escape_cell(plan.emergency)}; it may pass a freeze window "
            "with the owners' approval, and the deployment records it."
        )
    return [*lines, ""]


def owners_section(checks: list[OwnerCheck], governance: Governance) -> list[str]:
    """Which paths need their owners' approval, who owns them, and who approved."""
    if not checks:
        return []
    where = (
        f"`{governance.codeowners}` on the base branch"
        if governance.codeowners
        else ("no CODEOWNERS file on the base branch: any approval of the head counts")
    )
    lines = [
        "#### Owners' approval",
        "",
        f"Owners from {where}; an approval counts when given on the current head.",
        "",
        "| Path | Why | Owners | Approved by |",
        "|---|---|---|---|",
    ]
    for check in checks:
        owners = ", ".join(code_span(owner) for owner in check.owners) or "anyone"
        if check.approved_by:
            approved = "✅ " + ", ".join(escape_cell(name) for name in check.approved_by)
        elif check.unverified:
            approved = "⏳ cannot read the members of " + ", ".join(check.unverified)
        else:
            approved = "⏳ waiting"
        lines.append(
            f"| {code_span(check.path)} | {escape_cell('; '.join(check.why))} | {owners} | "
            f"{approved} |"
        )
    return [*lines, ""]


def with_change_section(plan_text: str, section: list[str]) -> list[str]:
    """The deployer's plan markdown with ``section`` before its first ``####`` heading."""
    lines = plan_text.rstrip("\n").split("\n")
    at = next((i for i, line in enumerate(lines) if line.startswith("#### ")), len(lines))
    return [*lines[:at], *section, *lines[at:], ""]


def _lineage(plan: Plan) -> list[str]:
    candidate = plan.candidate
    if candidate is None:
        return []
    sha = candidate.git_sha.strip()
    if sha.lower() in UNKNOWN_GIT:
        return [
            f"- **Lineage:** ⚠️ `{candidate.ref}` was built outside git (`git unknown`); "
            "staging and prod refuse it"
        ]
    dirty = "dirty" in sha.lower()
    note = " ⚠️ from a dirty work tree; staging and prod refuse it" if dirty else ""
    return [f"- **Lineage:** `{candidate.ref}` built from commit {code_span(sha)}{note}"]


def _value(text: str | None) -> str:
    return "–" if text is None or text == "-" else code_span(text)
