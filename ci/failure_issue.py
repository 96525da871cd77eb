"""One issue per failed deploy (found again by its marker), and a page when a rollback failed.

A failed deploy that rolled back opens (or updates) one ``slipway:deploy-failed`` issue per
environment and version. A failed rollback leaves the environment broken: its issue is a page
(label ``slipway:page``, a 🚨 title) saying what serves, if anything, and what to do. A
refused or locked apply deployed nothing and opens no issue.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci.forge.protocol import Issues
from ci.forge.records import Issue, IssueEdit
from ci.markers import marker
from ci.outcome import ApplyOutcome

FAILED_LABEL = "slipway:deploy-failed"
PAGE_LABEL = "slipway:page"


@dataclass(frozen=True)
class FailureFacts:
    """What the issue says about one failed deploy."""

    env: str
    sha: str
    ref: str | None
    deployment_id: int
    pr_number: int | None
    log_url: str | None
    outcome: ApplyOutcome | None
    rejected: bool
    rejection: str
    revert_number: int | None
    notes: tuple[str, ...]

    @property
    def paged(self) -> bool:
        """Whether the rollback failed too (the environment needs a human now)."""
        return self.outcome is not None and self.outcome.rollback_failed


def upsert_failure_issue(forge: Issues, facts: FailureFacts) -> Issue:
    """Open the issue of this failure, or update the open one (no second issue)."""
    what = facts.ref or "nothing"
    key = f"deploy-failed:{facts.env}:{what}"
    body = _body(facts, key)
    labels = (FAILED_LABEL, f"env:{facts.env}") + ((PAGE_LABEL,) if facts.paged else ())
    title = (
        f"🚨 Rollback of {facts.env} failed after the deploy of {what}"
        if facts.paged
        else f"Deploy of {what} to {facts.env} failed"
    )
    existing = forge.find_issue(marker=marker(key), label=FAILED_LABEL)
    if existing is None:
        return forge.create_issue(title=title, body=body, labels=labels)
    if existing.body == body and existing.title == title:
        return existing
    return forge.update_issue(number=existing.number, edit=IssueEdit(title=title, body=body))


def _body(facts: FailureFacts, key: str) -> str:
    outcome = facts.outcome
    what = facts.ref or "nothing"
    heading = (
        f"## 🚨 The rollback of `{facts.env}` failed: it needs a human now"
        if facts.paged
        else f"## ❌ Deploy of `{what}` to `{facts.env}` failed"
    )
    lines = [marker(key), heading, ""]
    if facts.paged and outcome is not None:
        serving = outcome.now_serving or "nothing (or unknown)"
        lines += [
            f"The deploy of `{what}` failed and so did the way back. `{facts.env}` serves "
            f"`{serving}`; check it with `slipway deploy status {facts.env}` and restore it "
            f"by hand (`slipway deploy rollback {facts.env} --to VERSION`).",
            "",
        ]
    cause = (outcome.cause or "unknown") if outcome else "unknown (no apply outcome given)"
    lines += [
        f"- Commit: `{facts.sha}` (deployment {facts.deployment_id})",
        f"- Pull request: #{facts.pr_number}" if facts.pr_number else "- Pull request: unknown",
        f"- Log: {facts.log_url}" if facts.log_url else "- Log: not given",
        f"- Outcome: `{outcome.outcome}`" if outcome else "- Outcome: failure",
        f"- Cause: {cause}",
    ]
    if outcome is not None:
        lines += [f"- Reason: {reason}" for reason in outcome.reasons]
        if outcome.outcome == "rolled-back":
            back = outcome.now_serving or outcome.previously_serving or "nothing"
            lines.append(f"- The deployer rolled `{facts.env}` back: it serves `{back}`.")
    lines.append(
        f"- Registry: `{what}` is marked Rejected"
        if facts.rejected
        else f"- Registry: `{what}` is not rejected ({facts.rejection})"
    )
    lines.append(
        f"- Revert: #{facts.revert_number}" if facts.revert_number else "- Revert: none opened"
    )
    lines += [f"- Note: {note}" for note in facts.notes]
    if facts.rejected:
        lines += ["", f"Promoting `{what}` again needs `--override-rejection`."]
    return "\n".join(lines) + "\n"
