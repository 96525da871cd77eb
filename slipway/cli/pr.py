"""``slipway ci pr``: list, show, approve and merge pull requests on either forge.

On the local forge (the embedded default) these stand in for a forge's web UI: approving
records an approval of the current head, merging is a real ``git merge --no-ff``. On GitHub
they are the pulls API: approving is a review by the token's user (GitHub refuses approving
your own pull request), merging is the merge API under the branch protection rules.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli import ci_options as cs
from slipway.cli.output import FormatOption, OutputFormat, emit

if TYPE_CHECKING:
    from ci.forge import Forge
    from ci.forge.records import PrState, PullRequest

pr_app = typer.Typer(
    help="List, review and merge pull requests (local forge: git in --repo-dir; or GitHub).",
    no_args_is_help=True,
)

NumberArg = Annotated[int, typer.Argument(help="Pull request number.", show_default=False)]


class StateChoice(StrEnum):
    """Which pull requests ``list`` shows."""

    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"
    ALL = "all"


_STATES: dict[StateChoice, PrState | None] = {
    StateChoice.OPEN: "open",
    StateChoice.CLOSED: "closed",
    StateChoice.MERGED: "merged",
    StateChoice.ALL: None,
}


def _forge(forge: cs.ForgeChoice | None, repo_dir: Path | None) -> Forge:
    from ci.context import ci_context

    return ci_context(forge=forge, repo_dir=repo_dir).forge


def _pr_doc(pr: PullRequest) -> dict[str, Any]:
    return {
        "number": pr.number,
        "state": pr.state,
        "title": pr.title,
        "head": pr.head,
        "base": pr.base,
        "head_sha": pr.head_sha,
        "labels": list(pr.labels),
    }


@pr_app.command("list")
def list_command(
    state: Annotated[
        StateChoice, typer.Option("--state", help="Which ones.", case_sensitive=False)
    ] = StateChoice.OPEN,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """List pull requests, oldest first."""
    prs = _forge(forge, repo_dir).list_prs(state=_STATES[state])
    lines = [f"#{p.number}  {p.state:<6}  {p.head} -> {p.base}  {p.title}" for p in prs]
    doc = {"pull_requests": [_pr_doc(p) for p in prs]}
    emit(doc, fmt, text=lambda _: "\n".join(lines or [f"no {state.value} pull requests"]))


@pr_app.command("show")
def show_command(
    number: NumberArg,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show one pull request: head commit, statuses, approvals, comments and body."""
    chosen = _forge(forge, repo_dir)
    pr = chosen.get_pr(number=number)
    statuses = chosen.list_statuses(sha=pr.head_sha) if pr.head_sha else []
    reviews = chosen.list_reviews(number=number)
    comments = chosen.list_comments(number=number)
    current = [r.reviewer for r in reviews if r.state == "approved" and r.sha == pr.head_sha]
    lines = [
        f"#{pr.number} {pr.title} [{pr.state}]",
        f"  {pr.head} -> {pr.base}, head {pr.head_sha[:12]}"
        + (f", merged as {pr.merge_sha[:12]}" if pr.merge_sha else ""),
        f"  labels: {', '.join(pr.labels) or '-'}",
        f"  approved for this head by: {', '.join(current) or 'nobody'}",
        *[f"  status {s.context}: {s.state} ({s.description})" for s in statuses],
        f"  comments: {len(comments)}",
        "",
        pr.body,
    ]
    doc = {
        **_pr_doc(pr),
        "merge_sha": pr.merge_sha,
        "approved_by": current,
        "statuses": {s.context: s.state for s in statuses},
        "comments": [{"id": c.id, "body": c.body} for c in comments],
        "body": pr.body,
    }
    emit(doc, fmt, text=lambda _: "\n".join(lines))


@pr_app.command("approve")
def approve_command(
    number: NumberArg,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Reviewer (local forge; default: your user name). On GitHub the review is by "
            "the token's user.",
            show_default=False,
        ),
    ] = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Approve the pull request's current head commit (a later push leaves it behind)."""
    review = _forge(forge, repo_dir).approve_pr(number=number, reviewer=by)
    doc = {"number": number, "reviewer": review.reviewer, "sha": review.sha}
    emit(doc, fmt, text=lambda _: f"#{number} approved by {review.reviewer} at {review.sha[:12]}")


@pr_app.command("merge")
def merge_command(
    number: NumberArg,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Merge with a merge commit (the forge may refuse: approval, failing statuses, conflicts)."""
    chosen = _forge(forge, repo_dir)
    pr = chosen.get_pr(number=number)
    sha = chosen.merge_pr(
        number=number, message=f"Merge pull request #{number} from {pr.head}\n\n{pr.title}\n"
    )
    doc = {"number": number, "base": pr.base, "merge_sha": sha}
    emit(doc, fmt, text=lambda _: f"#{number} merged into {pr.base} as {sha[:12]}")


@pr_app.command("team")
def team_command(
    team: Annotated[
        str,
        typer.Argument(
            help="The team CODEOWNERS names, as org/team (or @org/team).", show_default=False
        ),
    ],
    members: Annotated[
        list[str] | None,
        typer.Argument(help="Its members (reviewer names): replaces the list.", show_default=False),
    ] = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show or set who is in a CODEOWNERS team (the local forge; on GitHub: the org's teams).

    A policy change or an emergency needs an approval of its current head by an owner of the
    path: a user CODEOWNERS names, or a member of a team it names.
    """
    from ci.errors import CiConfigError
    from ci.forge.local import LocalForge

    chosen = _forge(forge, repo_dir)
    if members:
        if not isinstance(chosen, LocalForge):
            raise CiConfigError(f"set the members of {team} in the organization's teams on GitHub")
        found: list[str] | None = chosen.set_team(team=team, members=members)
    else:
        found = chosen.team_members(team=team)
    doc = {"team": team.removeprefix("@"), "members": found}
    text = (
        f"{doc['team']}: {', '.join(found) or 'nobody'}"
        if found is not None
        else f"{doc['team']}: unknown (the forge cannot tell)"
    )
    emit(doc, fmt, text=lambda _: text)
