"""``slipway ci``: what the workflows run on pull requests and deploys (plans, reports, drift)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ci.errors import PlanCommentError
from slipway.cli import ci_options as cs
from slipway.cli.output import FormatOption, OutputFormat, emit
from slipway.cli.pr import pr_app

ci_app = typer.Typer(
    help="GitHub/PR automation used by the workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
ci_app.add_typer(pr_app, name="pr")


@ci_app.command("comment-plan")
def comment_plan_command(
    pr_number: Annotated[
        int, typer.Option("--pr", help="Pull request number.", show_default=False)
    ],
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            help="Environment to plan (repeatable). Default: the one of a "
            "slipway/promote-ENV branch, env:ENV labels, or every changed manifest.",
            show_default=False,
        ),
    ] = None,
    gx_report_dir: Annotated[
        Path | None,
        typer.Option(
            "--gx-report-dir",
            help="Include the data validation results written by "
            "`slipway data validate --report-dir DIR`.",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    validate_data: Annotated[
        bool,
        typer.Option(
            "--validate-data",
            help="Validate every data source now (Great "
            "Expectations, slower) and include the summary.",
        ),
    ] = False,
    step_summary: Annotated[
        Path | None,
        typer.Option(
            "--step-summary",
            envvar="GITHUB_STEP_SUMMARY",
            help="Also append the plan to this file (default: $GITHUB_STEP_SUMMARY).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    run_url: cs.RunUrlOption = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    manifests_dir: cs.ManifestsOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Post the deploy plan of a pull request as one sticky comment per environment.

    The comment (found by <!-- slipway:plan:ENV -->) is edited in place and split into parts
    past GitHub's 65,535-character limit. Sets the commit statuses slipway/plan and
    slipway/policy on the head commit. Exits 1 when a plan could not be computed.
    """
    from ci.actions import run_url as this_run
    from ci.comment import comment_plan
    from ci.context import ci_context
    from ci.gx_summary import SourceSummary, from_report_dir, from_reports

    context = ci_context(forge=forge, repo_dir=repo_dir, manifests_dir=manifests_dir)
    gx: list[SourceSummary] = []
    if gx_report_dir is not None:
        gx = from_report_dir(gx_report_dir)
    elif validate_data:
        from feature_store.gate import validate_sources
        from feature_store.settings import FeatureStoreSettings
        from foundation.settings import load_settings

        repo_path = load_settings(FeatureStoreSettings).feature_repo
        gx = from_reports(validate_sources(repo_path=repo_path))
    result = comment_plan(
        forge=context.forge,
        number=pr_number,
        planner=context.planner(),
        manifests_dir=context.settings.manifests_dir,
        envs=env or None,
        gx=gx,
        run_url=run_url or this_run(),
        step_summary=step_summary,
    )
    text = [f"plan comment on #{pr_number} (head {result.pr.head_sha[:12]}):"]
    for name, sticky in result.comments.items():
        state = "updated" if sticky.changed else "unchanged"
        plan = result.plans.get(name)
        text.append(f"  {name}: {state}; {plan.summary if plan else result.errors.get(name)}")
    if not result.comments:
        text.append("  no environment manifest changes; nothing to plan")
    text += [f"  owners: {check.sentence()}" for check in result.governance.checks]
    text += [f"  status {s.context}: {s.state} ({s.description})" for s in result.statuses]
    _emit(
        fmt,
        text,
        {
            "pr": pr_number,
            "head_sha": result.pr.head_sha,
            "blocked": result.blocked,
            "errors": result.errors,
            "comments": {k: [c.id for c in v.comments] for k, v in result.comments.items()},
            "statuses": {s.context: s.state for s in result.statuses},
            "emergency": result.governance.emergency,
            "owners": [
                {
                    "path": c.path,
                    "why": list(c.why),
                    "owners": list(c.owners),
                    "approved_by": list(c.approved_by),
                    "unverified": list(c.unverified),
                }
                for c in result.governance.checks
            ],
            "body_updated": result.body_updated,
        },
    )
    if result.errors:
        raise PlanCommentError(
            "plan failed for " + "; ".join(f"{k}: {v}" for k, v in result.errors.items())
        )


@ci_app.command("report-deploy")
def report_deploy_command(
    env: Annotated[str, typer.Option("--env", help="Environment deployed.", show_default=False)],
    sha: Annotated[
        str, typer.Option("--sha", help="Commit deployed (the merge commit).", show_default=False)
    ],
    outcome_file: cs.OutcomeFileOption = None,
    result: cs.ResultOption = None,
    pr_number: cs.MergedPrOption = None,
    log_url: cs.LogUrlOption = None,
    status_json: cs.StatusJsonOption = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    base: cs.BaseOption = None,
    manifests_dir: cs.ManifestsOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Record a deploy's outcome: a deployment with statuses and a result comment on the PR.

    refused or locked: nothing is rejected and no issue opened. A failure (rolled back) opens
    one issue and the revert pull request (the git revert of the merge, branch
    slipway/revert-ENV; not for an infrastructure failure), and marks the version Rejected only
    when the deployer blamed the model and it serves healthily nowhere. A failed rollback pages
    (the issue is labelled slipway:page). Give --outcome-file or --result.
    """
    from ci.actions import run_url
    from ci.context import ci_context
    from ci.deployments import report_deploy
    from ci.outcome import load_outcome
    from ci.rejection import status_lookup

    if outcome_file is None and result is None:
        raise typer.BadParameter("give --outcome-file (or --result)", param_hint="--outcome-file")
    outcome = load_outcome(outcome_file) if outcome_file is not None else None
    context = ci_context(forge=forge, repo_dir=repo_dir, base=base, manifests_dir=manifests_dir)
    report = report_deploy(
        forge=context.forge,
        env=env,
        sha=sha,
        result=result.literal() if result is not None else None,
        outcome=outcome,
        pr_number=pr_number,
        log_url=log_url or run_url(),
        registries=context.registries,
        planner=context.planner(),
        manifests_dir=context.settings.manifests_dir,
        base=context.settings.base_branch,
        serving=status_lookup(status_json),
    )
    revert = report.revert.pr if report.revert else None
    what = outcome.outcome if outcome else report.result
    text = [
        f"deploy of {report.model_ref or 'nothing'} to {env} at {sha[:12]}: {what}",
        f"  deployment {report.deployment.id}: "
        + (", ".join(s.state for s in report.added) or "no new status"),
    ]
    if report.rejected:
        text.append(f"  registry: {report.model_ref} marked Rejected")
    elif report.rejection:
        text.append(f"  registry: not rejected ({report.rejection})")
    if revert is not None:
        text.append(f"  revert pull request #{revert.number}: {revert.url}")
    if report.issue is not None:
        kind = "page" if report.paged else "issue"
        text.append(f"  {kind} #{report.issue.number}: {report.issue.url}")
    text += [f"  note: {note}" for note in report.notes]
    _emit(
        fmt,
        text,
        {
            "env": env,
            "sha": sha,
            "result": report.result,
            "outcome": outcome.outcome if outcome else None,
            "cause": outcome.cause if outcome else None,
            "model": report.model_ref,
            "deployment": report.deployment.id,
            "added": [s.state for s in report.added],
            "rejected": report.rejected,
            "rejection": report.rejection,
            "revert_pr": revert.number if revert else None,
            "issue": report.issue.number if report.issue else None,
            "paged": report.paged,
            "notes": report.notes,
        },
    )


@ci_app.command("rollback")
def rollback_command(
    env: Annotated[str, typer.Argument(help="Environment to roll back.", show_default=False)],
    to: Annotated[
        int | None,
        typer.Option(
            "--to",
            metavar="VERSION",
            help="Go back to this version (default: the deployment before the serving one).",
            min=1,
            show_default=False,
        ),
    ] = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    base: cs.BaseOption = None,
    manifests_dir: cs.ManifestsOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Roll ENV back by pull request (branch slipway/rollback-ENV/MODEL): git stays the truth.

    ENV is one deployment: ENV/MODEL, or an environment with one manifest. The manifest of
    the earlier deployment comes from the deploy history (policy fields stay the base
    branch's); merging the pull request deploys it. Without a deployment of VERSION in the
    history, only the model block is set to it. `slipway deploy rollback ENV --forge ...` does
    the same.
    """
    command = f"slipway ci rollback {env}" + (f" --to {to}" if to else "")
    open_rollback_pr(
        env, to=to, forge=forge, repo_dir=repo_dir, base=base, manifests_dir=manifests_dir,
        fmt=fmt, command=command,
    )  # fmt: skip


def open_rollback_pr(
    env: str,
    *,
    to: int | None,
    forge: cs.ForgeChoice | None,
    repo_dir: Path | None,
    base: str | None,
    manifests_dir: str | None,
    fmt: OutputFormat,
    command: str,
) -> None:
    """Open (or update) the rollback pull request of the deployment ``env`` and print it."""
    from ci.actions import write_outputs
    from ci.context import ci_context
    from ci.rollback import history_rollback, propose_rollback
    from model_deploy.service import Deployer

    context = ci_context(forge=forge, repo_dir=repo_dir, base=base, manifests_dir=manifests_dir)
    if "/" not in env:
        env = Deployer(registries=context.registries).resolve(env)
    result = propose_rollback(
        context.forge,
        env=env,
        to_version=to,
        base=context.settings.base_branch,
        registries=context.registries,
        planner=context.planner(),
        manifests_dir=context.settings.manifests_dir,
        source=history_rollback(registries=context.registries),
        command=command,
    )
    pr = result.pr
    write_outputs({"pr-number": pr.number if pr else None, "branch": result.branch})
    text = [f"rollback {env}: {result.model_ref or 'nothing'}"]
    if pr is not None:
        text.append(f"  pull request #{pr.number} {result.pr_action or 'open'}: {pr.url}")
    if result.plan is not None:
        text.append(f"  plan: {result.plan.summary}")
    _emit(
        fmt,
        text,
        {
            "env": env,
            "model": result.model_ref,
            "branch": result.branch,
            "pr_number": pr.number if pr else None,
            "pr_url": pr.url if pr else None,
            "pr_action": result.pr_action,
            "changed": result.changed,
        },
    )


@ci_app.command("drift-issue")
def drift_issue_command(
    status_json: Annotated[
        Path | None,
        typer.Option(
            "--status-json",
            help="Output of `slipway deploy status --format json` "
            "(default: check every environment now).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    run_url: cs.RunUrlOption = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Open or update ONE drift issue with the drift table; close it when there is no drift."""
    from ci.actions import run_url as this_run
    from ci.context import ci_context
    from ci.drift import drift_issue, drifting, load_statuses, plan_blockers
    from model_deploy.service import Deployer

    deployer = Deployer()
    if status_json is not None:
        statuses = load_statuses(status_json)
    else:
        from model_deploy.status import status_all

        statuses = status_all(deployer)
    result = drift_issue(
        forge=ci_context(forge=forge, repo_dir=repo_dir).forge,
        statuses=statuses,
        now=datetime.now(UTC),
        run_url=run_url or this_run(),
        blockers=plan_blockers(deployer, [s.env for s in statuses if drifting(s)]),
    )
    where = f" #{result.issue.number} ({result.issue.url})" if result.issue else ""
    drifted = ", ".join(result.drifted) or "none"
    _emit(
        fmt,
        [f"drift issue {result.action}{where}; drifted: {drifted}"],
        {
            "action": result.action,
            "issue": result.issue.number if result.issue else None,
            "drifted": result.drifted,
        },
    )


@ci_app.command("retrain")
def retrain_command(
    env: Annotated[
        str, typer.Option("--env", help="Environment monitored (prod).", show_default=False)
    ],
    model: Annotated[str, typer.Option("--model", help="Model monitored.", show_default=False)],
    result_file: Annotated[
        Path,
        typer.Option(
            "--result",
            help="The run's result: `slipway monitor run --format json` output or its "
            "summary.json.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    report_url: Annotated[
        str | None,
        typer.Option(
            "--report-url", help="Link to the run's report (an artifact).", show_default=False
        ),
    ] = None,
    run_url: cs.RunUrlOption = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    base: cs.BaseOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Retrain by pull request when a monitoring run of ENV/MODEL found violations.

    On violations: open or update ONE issue per ENV/MODEL and ONE retrain pull request
    (branch slipway/retrain-MODEL, changing model_build/models/MODEL/RETRAIN.json, so the
    model-build workflow runs). A clean run closes the issue with a comment and leaves the
    pull request open with one. A run that analysed nothing (status Failed) changes nothing.
    """
    from ci.actions import run_url as this_run
    from ci.actions import write_outputs
    from ci.context import ci_context
    from ci.retrain import request_retrain
    from ci.retrain_input import load_findings

    findings = load_findings(result_file, env=env, model=model)
    context = ci_context(forge=forge, repo_dir=repo_dir, base=base)
    done = request_retrain(
        forge=context.forge,
        env=env,
        model=model,
        findings=findings,
        now=datetime.now(UTC),
        base=context.settings.base_branch,
        report_url=report_url,
        run_url=run_url or this_run(),
    )
    write_outputs({"action": done.action, "pr-number": done.pr.number if done.pr else None})
    count = len(findings.findings)
    text = [f"retrain {env}/{model}: {done.action} ({count} violation{'' if count == 1 else 's'})"]
    if done.pr is not None:
        text.append(f"  pull request #{done.pr.number} {done.pr_action}: {done.pr.url}")
    if done.issue is not None:
        text.append(f"  issue #{done.issue.number} {done.issue_action or 'open'}: {done.issue.url}")
    _emit(fmt, text, done.to_json())


def _emit(fmt: OutputFormat, text: list[str], doc: dict[str, object]) -> None:
    emit(doc, fmt, text=lambda _: "\n".join(text))
