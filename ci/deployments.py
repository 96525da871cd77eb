"""``slipway ci report-deploy``: a deploy's outcome back on the forge, and what it triggers.

After a merge the workflow applies the manifest and saves the apply's outcome
(``slipway deploy apply ENV --format json``, :mod:`ci.outcome`); this reports it: a
deployment of the merged commit to the environment with statuses, and one result comment on
the pull request (edited in place on a re-run). What follows depends on the outcome, never on
an exit code alone:

- ``applied`` / ``no-op``: the deployment succeeds. Nothing else.
- ``refused`` (a policy) / ``locked`` (another deploy): nothing was deployed, nobody is to
  blame. The deployment says why (``error`` / ``inactive``); no version is rejected, no issue
  is opened.
- ``rolled-back``: one issue; the revert pull request (the git revert of the merge
  commit) unless the infrastructure failed; the version is marked Rejected only when the
  deployer blamed the model, and never while it serves healthily anywhere
  (:mod:`ci.rejection`).
- ``rollback-failed``: the same, and the issue is a page (the deployment status is ``error``).

``--result`` without an outcome (older workflows) reports the state; a ``failure`` then has
no known cause, so it rejects nothing. Every step runs even if an earlier one failed; the
problems are raised together at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ci.errors import CiError, DeployReportError
from ci.failure_issue import FailureFacts, upsert_failure_issue
from ci.forge.protocol import Forge
from ci.forge.records import Deployment, DeploymentState, DeploymentStatus, Issue, PullRequest
from ci.governance import emergency_reason
from ci.markers import digest_of
from ci.outcome import ApplyOutcome
from ci.planning import Planner, RegistryOpener, manifest_path
from ci.promote import PromotionResult
from ci.rejection import ServingLookup, decide_rejection, reject_version
from ci.revert import model_at, propose_revert, restores
from ci.sticky import StickyResult, upsert_sticky
from model_deploy.manifest.model import ModelRef

DeployResult = Literal["in_progress", "success", "failure"]

__all__ = ["DeployReport", "DeployResult", "report_deploy"]

#: The deployment state each apply outcome is reported as.
_STATES: dict[str, DeploymentState] = {
    "applied": "success",
    "no-op": "success",
    "refused": "error",
    "locked": "inactive",
    "rolled-back": "failure",
    "rollback-failed": "error",
}


@dataclass
class DeployReport:
    """What ``report-deploy`` did.

    Attributes:
        env: Environment.
        sha: Deployed commit.
        result: The deployment state reported (``success``, ``error``, ``inactive``...).
        model_ref: Version the commit's manifest names.
        deployment: The deployment record.
        outcome: The apply outcome, when one was given.
        added: Deployment statuses added by this call.
        comment: The result comment on the pull request.
        rejected: Whether the version was marked Rejected by this call.
        rejection: Why the version was (or was not) rejected.
        revert: The revert pull request, when one was proposed.
        issue: The failure issue (a page when the rollback failed).
        notes: What was skipped and why.
    """

    env: str
    sha: str
    result: DeploymentState
    model_ref: str | None
    deployment: Deployment
    outcome: ApplyOutcome | None = None
    added: list[DeploymentStatus] = field(default_factory=list)
    comment: StickyResult | None = None
    rejected: bool = False
    rejection: str = ""
    revert: PromotionResult | None = None
    issue: Issue | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether the deploy failed."""
        return self.outcome.failed if self.outcome else self.result == "failure"

    @property
    def paged(self) -> bool:
        """Whether the rollback failed too (the issue is a page)."""
        return self.outcome is not None and self.outcome.rollback_failed


def report_deploy(
    *,
    forge: Forge,
    env: str,
    sha: str,
    pr_number: int | None,
    log_url: str | None,
    registries: RegistryOpener,
    planner: Planner,
    manifests_dir: str,
    base: str,
    result: DeployResult | None = None,
    outcome: ApplyOutcome | None = None,
    serving: ServingLookup | None = None,
) -> DeployReport:
    """Record a deploy's outcome (or bare ``result``) and do what it calls for.

    ``sha`` is the deployed (merge) commit; ``planner`` plans the revert, which targets
    ``base``; ``serving`` reads every environment's status before a version is rejected
    (without it, nothing is rejected).

    Raises:
        CiError: Neither ``result`` nor ``outcome`` was given.
        DeployReportError: Some follow-up could not be done (all others were).
    """
    if outcome is None and result is None:
        raise CiError("report-deploy needs the apply outcome or a result")
    path = manifest_path(manifests_dir, env)
    model = _model(forge, path=path, sha=sha, env=env)
    ref = model.ref if model else None
    pr = forge.get_pr(number=pr_number) if pr_number is not None else None
    emergency = emergency_reason(pr) if pr is not None else None
    state = _state(result, outcome)
    deployment = _deployment(forge, sha=sha, env=env, ref=ref, pr=pr_number, path=path,
                             emergency=emergency)  # fmt: skip
    report = DeployReport(
        env=env, sha=sha, result=state, model_ref=ref, deployment=deployment, outcome=outcome
    )
    _add_statuses(forge, report, log_url)
    problems: list[str] = []
    if report.failed and model is not None:
        call = decide_rejection(
            forge, outcome=outcome, model=model, env=env, sha=sha, restores=restores(pr),
            serving=serving, manifests_dir=manifests_dir,
        )  # fmt: skip
        report.rejection = call.why
        if call.reject:
            where = f" (#{pr_number})" if pr_number else ""
            reason = f"deploy to {env} failed at {sha[:12]}{where}: {call.why}" + (
                f"; log {log_url}" if log_url else ""
            )
            report.rejected = reject_version(registries, model, reason=reason, problems=problems)
        report.revert = _revert(
            forge, report, pr=pr, base=base, registries=registries, planner=planner,
            manifests_dir=manifests_dir, problems=problems,
        )  # fmt: skip
    if pr_number is not None:
        text = _comment(report, log_url)
        report.comment = upsert_sticky(
            forge, number=pr_number, key=f"deploy:{env}:{sha[:12]}", body=text,
            digest=digest_of(text),
        )  # fmt: skip
    if report.failed:
        report.issue = upsert_failure_issue(
            forge,
            FailureFacts(
                env=env, sha=sha, ref=ref, deployment_id=deployment.id, pr_number=pr_number,
                log_url=log_url, outcome=outcome, rejected=report.rejected,
                rejection=report.rejection or "no model to judge",
                revert_number=report.revert.pr.number if report.revert and report.revert.pr
                else None,
                notes=tuple(report.notes),
            ),
        )  # fmt: skip
    if problems:
        raise DeployReportError("; ".join(problems))
    return report


def _model(forge: Forge, *, path: str, sha: str, env: str) -> ModelRef | None:
    if forge.read_file(path=path, ref=sha) is None:
        raise DeployReportError(f"{path} does not exist at {sha[:12]}")
    try:
        return model_at(forge, path=path, ref=sha, env=env)
    except CiError as exc:
        raise DeployReportError(str(exc)) from exc


def _state(result: DeployResult | None, outcome: ApplyOutcome | None) -> DeploymentState:
    if outcome is None:
        assert result is not None
        return result
    return _STATES[outcome.outcome]


def _deployment(
    forge: Forge,
    *,
    sha: str,
    env: str,
    ref: str | None,
    pr: int | None,
    path: str,
    emergency: str | None,
) -> Deployment:
    found = forge.list_deployments(sha=sha, environment=env)
    if found:
        return found[0]
    payload: dict[str, object] = {"model": ref, "pr": pr, "manifest": path}
    if emergency:
        payload["emergency"] = emergency
    return forge.create_deployment(
        sha=sha,
        environment=env,
        description=f"{ref or 'nothing'} to {env}" + (" (emergency)" if emergency else ""),
        payload=payload,
    )


def _add_statuses(forge: Forge, report: DeployReport, log_url: str | None) -> None:
    states = [s.state for s in forge.list_deployment_statuses(deployment_id=report.deployment.id)]
    wanted: list[DeploymentState] = ["in_progress"] if "in_progress" not in states else []
    if report.result != "in_progress" and (not states or states[-1] != report.result):
        wanted.append(report.result)
    for state in wanted:
        status = DeploymentStatus(state, _sentence(report, state), log_url)
        report.added.append(
            forge.create_deployment_status(deployment_id=report.deployment.id, status=status)
        )


def _sentence(report: DeployReport, state: DeploymentState) -> str:
    what = report.model_ref or "nothing (model: null)"
    env = report.env
    outcome = report.outcome
    if state == "in_progress":
        return f"Deploying {what} to {env}"
    if outcome is None:
        if state == "success":
            return f"Deployed {what} to {env}"
        return f"Deploy of {what} to {env} failed; rolled back"
    reasons = outcome.reason_text()
    return {
        "applied": f"Deployed {what} to {env}",
        "no-op": f"{env} already serves {what}; nothing to do",
        "refused": f"Refused, nothing deployed: {reasons}",
        "locked": f"Not deployed: {env} is locked by another deploy ({reasons})",
        "rolled-back": f"Deploy of {what} to {env} failed "
        f"(cause: {outcome.cause or 'unknown'}); rolled back to "
        f"{outcome.now_serving or outcome.previously_serving or 'nothing'}",
        "rollback-failed": f"Deploy of {what} to {env} failed and so did its rollback; "
        f"{env} needs a human",
    }[outcome.outcome]


def _revert(
    forge: Forge,
    report: DeployReport,
    *,
    pr: PullRequest | None,
    base: str,
    registries: RegistryOpener,
    planner: Planner,
    manifests_dir: str,
    problems: list[str],
) -> PromotionResult | None:
    env, sha = report.env, report.sha
    if restores(pr):
        report.notes.append("the failed deploy was itself a revert or rollback; no revert of it")
        return None
    if report.outcome is not None and report.outcome.cause == "infrastructure":
        report.notes.append(
            "the infrastructure failed, not the change: nothing is reverted; re-run the deploy "
            "once it is fixed"
        )
        return None
    path = manifest_path(manifests_dir, env)
    if forge.read_file(path=path, ref=base) != forge.read_file(path=path, ref=sha):
        report.notes.append(f"{path} on {base} changed since {sha[:12]}; no revert needed")
        return None
    where = f" (#{pr.number})" if pr else ""
    try:
        return propose_revert(
            forge, env=env, sha=sha, pr=pr, base=base, registries=registries, planner=planner,
            manifests_dir=manifests_dir,
            why=f"the deploy of `{report.model_ref or 'nothing'}` to `{env}` failed at "
            f"`{sha[:12]}`{where}",
            command=f"slipway ci report-deploy --env {env} --sha {sha[:12]}",
        )  # fmt: skip
    except CiError as exc:
        problems.append(f"could not open the revert pull request: {exc}")
        return None


def _comment(report: DeployReport, log_url: str | None) -> str:
    outcome = report.outcome
    icon = {"success": "✅", "in_progress": "🚀", "inactive": "⏸️", "error": "⛔"}.get(
        report.result, "❌"
    )
    if report.paged:
        icon = "🚨"
    log = f" · [deploy log]({log_url})" if log_url else ""
    lines = [
        f"{icon} **{_sentence(report, report.result)}** from `{report.sha[:12]}` "
        f"(deployment {report.deployment.id}){log}.",
    ]
    if outcome is not None and outcome.outcome in ("refused", "locked"):
        lines += ["", "Nothing was deployed and no version was rejected."]
        lines += [f"- {reason}" for reason in outcome.reasons]
        if outcome.outcome == "locked":
            lines.append(
                "- Re-run the deploy (the workflow's `workflow_dispatch`) once the other one ends."
            )
    if report.failed:
        lines += ["", _failure_summary(report)]
    return "\n".join(lines) + "\n"


def _failure_summary(report: DeployReport) -> str:
    parts = []
    if report.paged:
        parts.append("The rollback failed too: see the issue, this environment needs a human.")
    else:
        parts.append("The deployer rolled the environment back to its previous deployment.")
    parts.append(
        f"`{report.model_ref}` is marked Rejected in the registry."
        if report.rejected
        else f"No version is rejected ({report.rejection or 'nothing to judge'})."
    )
    if report.revert is not None and report.revert.pr is not None:
        parts.append(f"#{report.revert.pr.number} reverts the merge so git matches what serves.")
    parts += [f"Note: {note}." for note in report.notes]
    return " ".join(parts)
