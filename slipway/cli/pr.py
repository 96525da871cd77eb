"""``slipway ci pr``: review and merge pull requests of the local forge (the embedded default).

On GitHub, people review and merge in the web UI; these commands stand in for it on a machine
with no forge: list, show (with statuses, approvals and comments), approve the current head,
and merge (a real ``git merge --no-ff`` into the base branch).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from ci.errors import CiConfigError
from ci.forge.local import LocalForge
from slipway.cli import ci_options as cs

pr_app = typer.Typer(
    help="Review and merge pull requests of the local forge (git in --repo-dir).",
    no_args_is_help=True,
)

NumberArg = Annotated[int, typer.Argument(help="Pull request number.", show_default=False)]


def _local(repo_dir: Path | None) -> LocalForge:
    config = cs.settings(
        forge=cs.ForgeChoice.LOCAL, repo_dir=repo_dir, base=None, manifests_dir=None
    )
    forge = cs.forge_of(config)
    if not isinstance(forge, LocalForge):  # pragma: no cover - forced to local above
        raise CiConfigError("these commands need the local forge")
    return forge


@pr_app.command("list")
def list_command(
    state: Annotated[str, typer.Option("--state", help="open, closed, merged or all.")] = "open",
    repo_dir: cs.RepoDirOption = None,
    fmt: cs.FormatOption = cs.OutputFormat.TEXT,
) -> None:
    """List pull requests."""
    forge = _local(repo_dir)
    prs = forge.list_prs(state=None if state == "all" else state)
    text = [f"#{p.number}  {p.state:<6}  {p.head} -> {p.base}  {p.title}" for p in prs]
    cs.emit(
        fmt,
        text=text or [f"no {state} pull requests"],
        doc={
            "pull_requests": [
                {
                    "number": p.number,
                    "state": p.state,
                    "title": p.title,
                    "head": p.head,
                    "base": p.base,
                    "head_sha": p.head_sha,
                    "labels": list(p.labels),
                }
                for p in prs
            ]
        },
    )


@pr_app.command("show")
def show_command(
    number: NumberArg,
    repo_dir: cs.RepoDirOption = None,
    fmt: cs.FormatOption = cs.OutputFormat.TEXT,
) -> None:
    """Show one pull request: head commit, statuses, approvals, comments and body."""
    forge = _local(repo_dir)
    pr = forge.get_pr(number=number)
    statuses = forge.list_statuses(sha=pr.head_sha) if pr.head_sha else []
    approvals = forge.approvals(number=number)
    comments = forge.list_comments(number=number)
    current = [a.reviewer for a in approvals if a.sha == pr.head_sha]
    text = [
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
    cs.emit(
        fmt,
        text=text,
        doc={
            "number": pr.number,
            "title": pr.title,
            "state": pr.state,
            "head": pr.head,
            "base": pr.base,
            "head_sha": pr.head_sha,
            "merge_sha": pr.merge_sha,
            "labels": list(pr.labels),
            "approved_by": current,
            "statuses": {s.context: s.state for s in statuses},
            "comments": [{"id": c.id, "body": c.body} for c in comments],
            "body": pr.body,
        },
    )


@pr_app.command("approve")
def approve_command(
    number: NumberArg,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Reviewer name (default: your user name).", show_default=False),
    ] = None,
    repo_dir: cs.RepoDirOption = None,
) -> None:
    """Approve the pull request's current head commit (a later push dismisses it)."""
    forge = _local(repo_dir)
    reviewer = by or getpass.getuser()
    pr = forge.approve_pr(number=number, reviewer=reviewer)
    typer.echo(f"#{pr.number} approved by {reviewer} at {pr.head_sha[:12]}")


@pr_app.command("merge")
def merge_command(number: NumberArg, repo_dir: cs.RepoDirOption = None) -> None:
    """Merge with `git merge --no-ff` (needs an approval of the head and no failing status)."""
    forge = _local(repo_dir)
    pr = forge.get_pr(number=number)
    sha = forge.merge_pr(
        number=number, message=f"Merge pull request #{number} from {pr.head}\n\n{pr.title}\n"
    )
    typer.echo(f"#{number} merged into {pr.base} as {sha[:12]}")
