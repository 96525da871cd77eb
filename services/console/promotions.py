"""Page 2: open promotion pull requests with their plans, and each environment's history.

An open pull request from a Slipway branch (``slipway/promote-<env>/<model>``, ``rollback``,
``revert``) shows the sticky plan comment of its deployment rendered as HTML, the latest
commit status per context on its head and who approved it. An environment's history merges
two sources, newest first: the base branch's manifest commits (git: what was asked for, by
which pull request, merged by whom) and the deploy history (the store: what was applied, with
its outcome). Each merged change names the way back: ``slipway ci rollback <key> --to <N>``
opens the rollback pull request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ci.forge.records import CommitStatus, PullRequest
from services.console.gitlog import branch_deployment
from services.console.markdown import plan_html
from services.console.readers import Readers


@dataclass(frozen=True)
class OpenPromotion:
    """One open pull request of a Slipway branch.

    Attributes:
        pr: The pull request.
        kind: ``promote``, ``rollback`` or ``revert``.
        key: The deployment it changes (``<env>/<model>``).
        plan: The sticky plan comment as safe HTML, or None before ``slipway ci comment-plan``.
        statuses: The latest status per context on the head commit.
        approvals: Who approved the head commit.
    """

    pr: PullRequest
    kind: str
    key: str
    plan: str | None
    statuses: list[CommitStatus]
    approvals: list[str]

    @property
    def url(self) -> str | None:
        """The pull request's address when it is a web link (the local forge has none)."""
        return _web(self.pr.url)


def open_promotions(readers: Readers, *, plans: bool = True) -> list[OpenPromotion]:
    """Every open pull request of a Slipway branch, lowest number first.

    ``plans=False`` skips the comments and reviews (the list page needs only the statuses).
    """
    found = []
    for pr in sorted(readers.open_prs, key=lambda p: p.number):
        deployment = branch_deployment(pr.head)
        if deployment is None:
            continue
        kind, key = deployment
        plan = readers.plan_comment(pr.number, key) if plans else None
        approvals = (
            sorted(
                {
                    r.reviewer
                    for r in readers.thread(pr.number)[0]
                    if r.state == "approved" and r.sha == pr.head_sha
                }
            )
            if plans
            else []
        )
        found.append(
            OpenPromotion(
                pr=pr,
                kind=kind,
                key=key,
                plan=plan_html(plan) if plan else None,
                statuses=readers.commit_statuses(pr.head_sha),
                approvals=approvals,
            )
        )
    return found


def other_slipway_prs(readers: Readers) -> list[PullRequest]:
    """Open pull requests of other Slipway branches (``slipway/retrain-<model>``...)."""
    return sorted(
        (
            pr
            for pr in readers.open_prs
            if pr.head.startswith("slipway/") and branch_deployment(pr.head) is None
        ),
        key=lambda p: p.number,
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an environment's history.

    Attributes:
        at: When it happened.
        key: The deployment.
        source: ``git`` (a manifest commit on the base branch) or ``deploy`` (a deploy record).
        what: One line: the commit subject, or the deploy action, version and outcome.
        who: The commit's author (on a merge: who merged), for git entries.
        sha: The commit (git), or the manifest commit a deploy applied.
        pr_number: The merged pull request, for git entries that merged one.
        pr_url: Its web address, when it has one.
        outcome: The deploy outcome (``succeeded``, ``rolled_back``, ``failed``), for deploys.
        revert: The command that opens the pull request going back before this change.
    """

    at: datetime
    key: str
    source: str
    what: str
    who: str = ""
    sha: str = ""
    pr_number: int | None = None
    pr_url: str | None = None
    outcome: str | None = None
    revert: str | None = None


@dataclass(frozen=True)
class EnvHistory:
    """An environment's history and the warnings met while reading it."""

    env: str
    entries: list[HistoryEntry]
    warnings: list[str] = field(default_factory=list)


def env_history(readers: Readers, env: str, *, limit: int = 200) -> EnvHistory:
    """The newest ``limit`` entries of ``env``'s history (git and deploy records merged)."""
    keys = [k for k in readers.deployments if k.partition("/")[0] == env]
    entries: list[HistoryEntry] = []
    warnings: list[str] = []
    for commit in readers.log:
        for key in commit.deployments:
            if key not in keys:
                continue
            number = commit.pr_number
            entries.append(
                HistoryEntry(
                    at=commit.at,
                    key=key,
                    source="git",
                    what=commit.subject,
                    who=commit.author,
                    sha=commit.sha,
                    pr_number=commit.pr_number,
                    pr_url=readers.pr_web_url(number) if number is not None else None,
                )
            )
    for key in keys:
        history = readers.history(key)
        warnings += [f"{key}: {w}" for w in history.warnings]
        previous: int | None = None
        for record in history.records:
            revert = None
            if record.outcome == "succeeded" and previous is not None:
                revert = f"slipway ci rollback {key} --to {previous}"
            entries.append(
                HistoryEntry(
                    at=record.at,
                    key=key,
                    source="deploy",
                    what=f"{record.action} {record.model_ref or '-'}"
                    + (f": {record.message}" if record.message else ""),
                    sha=record.git_sha if record.git_sha != "unknown" else "",
                    outcome=record.outcome,
                    revert=revert,
                )
            )
            if record.outcome == "succeeded" and record.version is not None:
                previous = record.version
    entries.sort(key=lambda e: e.at.timestamp(), reverse=True)
    return EnvHistory(env=env, entries=entries[:limit], warnings=warnings)


def _web(url: str) -> str | None:
    return url if url.startswith(("http://", "https://")) else None
