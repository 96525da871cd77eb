"""What the plan comment adds to ``model_deploy``'s plan markdown: provenance and owners.

The deployer's plan already names the change kind (model promotion, config change, rollback,
emergency), every manifest field and every policy field that changes, and what needs the
owners' approval. The comment adds where the policies were read from (the base branch), the
model's lineage (the build commit; ``git unknown`` and dirty trees are called out) with the
MLflow run that built the candidate (a link to its page when the tracking store has a UI
address: parameters, metrics, SHAP plots, bias report; an untracked build says so), the
recorded emergency reason, and which paths need their owners' approval with who approved.
"""

from __future__ import annotations

from ci.governance import Governance, OwnerCheck
from foundation.markdown import code_span, escape_cell
from model_deploy.evidence import Evidence
from model_deploy.plan import Plan
from model_deploy.render.markdown import run_link

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
        lineage = (
            f"- **Lineage:** ⚠️ `{candidate.ref}` was built outside git (`git unknown`); "
            "staging and prod refuse it"
        )
    else:
        dirty = "dirty" in sha.lower()
        note = " ⚠️ from a dirty work tree; staging and prod refuse it" if dirty else ""
        lineage = f"- **Lineage:** `{candidate.ref}` built from commit {code_span(sha)}{note}"
    return [lineage, _build_run(candidate)]


def _build_run(candidate: Evidence) -> str:
    link = run_link(candidate)
    if link is None or candidate.tracking is None:
        return f"- **Build run:** `{candidate.ref}` was built without experiment tracking"
    what = "parameters, metrics, SHAP plots" + (", bias report" if candidate.bias else "")
    model = candidate.tracking.model_uri
    logged = f"; logged model {code_span(model)}" if model else ""
    return f"- **Build run:** {link} ({what}){logged}"


def _value(text: str | None) -> str:
    return "–" if text is None or text == "-" else code_span(text)
