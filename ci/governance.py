"""Changes that need the owners' approval: policy changes and emergencies.

A pull request that changes the rules it is judged by is itself a policy change: the policy
fields of a manifest (freeze windows, thresholds, the promotion path...: the plan lists them
as ``policy_changes``), the policy code (``model_deploy/policies/``) or CODEOWNERS itself. An
emergency (the ``emergency`` label) may pass a freeze window, but only with the owners'
approval too. The owners are read from CODEOWNERS on the base branch; an approval counts when
it was given on the current head (after the last push) by an owner: the user named, or a
member of the team named. A team whose members the forge cannot read is reported as such,
never counted as approved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ci.codeowners import LOCATIONS, CodeOwners, read_codeowners
from ci.forge.protocol import Files, Reviews, Teams, Trees
from ci.forge.records import PullRequest
from ci.planning import manifest_path
from model_deploy.plan import Plan

#: The label that makes a pull request an emergency change.
EMERGENCY_LABEL = "emergency"
#: Paths that hold the rules themselves (a change to them needs their owners' approval).
POLICY_PATHS: tuple[str, ...] = ("model_deploy/policies/", *LOCATIONS)


class GovernanceForge(Files, Trees, Reviews, Teams, Protocol):
    """What the owners' check needs: files and trees, reviews, team members."""


@dataclass(frozen=True)
class OwnerCheck:
    """One path that needs its owners' approval.

    Attributes:
        path: The file.
        why: What makes it need the owners (``policy change: freeze_windows``...).
        owners: Its CODEOWNERS owners (empty: no rule names any; any approval counts).
        approved_by: Approvals of the current head that count.
        unverified: Teams whose members the forge would not tell.
    """

    path: str
    why: tuple[str, ...]
    owners: tuple[str, ...]
    approved_by: tuple[str, ...]
    unverified: tuple[str, ...] = ()

    @property
    def satisfied(self) -> bool:
        """Whether an owner approved the current head."""
        return bool(self.approved_by)

    def sentence(self) -> str:
        """One short line: the path, who must approve it (or who did), and why."""
        if self.approved_by:
            return f"{self.path}: approved by {', '.join(self.approved_by)}"
        who = " or ".join(self.owners) if self.owners else "anyone (no CODEOWNERS rule)"
        text = f"{self.path}: {who} ({'; '.join(self.why)})"
        if self.unverified:
            text += "; team members unreadable"
        return text


@dataclass
class Governance:
    """What the pull request needs from its owners.

    Attributes:
        checks: One per path that needs its owners' approval.
        emergency: The recorded emergency reason (the label is set), else None.
        codeowners: Where the rules were read (None: the base branch has no CODEOWNERS).
    """

    checks: list[OwnerCheck] = field(default_factory=list)
    emergency: str | None = None
    codeowners: str | None = None

    @property
    def satisfied(self) -> bool:
        """Whether every path that needs its owners has their approval."""
        return all(check.satisfied for check in self.checks)

    @property
    def missing(self) -> list[OwnerCheck]:
        """The checks still waiting for an owner."""
        return [check for check in self.checks if not check.satisfied]


def emergency_reason(pr: PullRequest) -> str | None:
    """The emergency reason recorded for a pull request labelled ``emergency``, else None."""
    if EMERGENCY_LABEL not in pr.labels:
        return None
    return f"label `{EMERGENCY_LABEL}` on #{pr.number}: {pr.title}"


def review_governance(
    forge: GovernanceForge,
    *,
    pr: PullRequest,
    plans: Mapping[str, Plan],
    manifests_dir: str,
) -> Governance:
    """Which paths of ``pr`` need their owners' approval, and whether they have it."""
    needs: dict[str, list[str]] = {}
    for env, plan in plans.items():
        path = manifest_path(manifests_dir, env)
        if plan.policy_changes:
            keys = ", ".join(dict.fromkeys(_field(change.key) for change in plan.policy_changes))
            needs.setdefault(path, []).append(f"policy change: {keys}")
        if plan.emergency:
            needs.setdefault(path, []).append("emergency change")
    for path in forge.changed_paths(base=pr.base, head=pr.head_sha):
        if any(path == rule or path.startswith(rule) for rule in POLICY_PATHS if rule):
            needs.setdefault(path, []).append("changes the rules plans are judged by")
    owners = read_codeowners(forge, ref=pr.base)
    approvers = sorted(
        {r.reviewer for r in forge.list_reviews(number=pr.number)
         if r.state == "approved" and r.sha == pr.head_sha}
    )  # fmt: skip
    teams = _TeamCache(forge)
    checks = [_check(path, why, owners, approvers, teams) for path, why in sorted(needs.items())]
    return Governance(checks=checks, emergency=emergency_reason(pr), codeowners=owners.source)


def _field(key: str) -> str:
    """The top-level manifest field of a dotted path (``freeze_windows[0].end``)."""
    return key.split(".", 1)[0].split("[", 1)[0]


class _TeamCache:
    def __init__(self, forge: Teams) -> None:
        self.forge = forge
        self.known: dict[str, list[str] | None] = {}

    def members(self, team: str) -> list[str] | None:
        if team not in self.known:
            self.known[team] = self.forge.team_members(team=team)
        return self.known[team]


def _check(
    path: str, why: list[str], rules: CodeOwners, approvers: list[str], teams: _TeamCache
) -> OwnerCheck:
    owners = rules.owners_of(path)
    if not owners:
        return OwnerCheck(path, tuple(why), (), tuple(approvers))
    approved: list[str] = []
    unverified: list[str] = []
    for owner in owners:
        name = owner.removeprefix("@")
        if not owner.startswith("@"):
            continue  # an e-mail address: the forge has no login to compare
        if "/" not in name:
            approved += [a for a in approvers if a.lower() == name.lower()]
            continue
        members = teams.members(name)
        if members is None:
            unverified.append(owner)
            continue
        lowered = {m.lower() for m in members}
        approved += [a for a in approvers if a.lower() in lowered]
    return OwnerCheck(path, tuple(why), owners, tuple(dict.fromkeys(approved)), tuple(unverified))
