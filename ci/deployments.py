"""``slipway ci report-deploy``: a deploy's result back on GitHub, and what a failure triggers.

After a merge the workflow applies the manifest, then reports: a deployment of the merged
commit to the environment with statuses (``in_progress``, then ``success`` or ``failure``) and
one result comment on the pull request (edited in place on a re-run). A failure, after the
deployer rolled back by itself, also:

1. marks the version Rejected in the registry (the reason names the commit, pull request and
   log), so ``slipway promote`` refuses it without ``--override-rejection``;
2. opens a revert pull request putting the manifest back on the previous version (read from
   the promotion pull request's metadata), so git matches what serves again;
3. opens (or updates) one issue for the failure.

Every step runs even if an earlier one failed; the problems are raised together at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ci.errors import CiError, DeployReportError
from ci.forge.protocol import Files, Forge, Issues
from ci.forge.records import Deployment, DeploymentStatus, Issue, IssueEdit
from ci.markers import digest_of, marker
from ci.planning import Planner, RegistryOpener, manifest_path
from ci.promote import PromotionResult, propose
from ci.steps.body import Proposal, previous_model
from ci.sticky import StickyResult, upsert_sticky
from model_build.errors import BuildError
from model_build.registry.protocol import ApprovalStatus, ModelVersion
from model_deploy.errors import DeployError
from model_deploy.manifest.loader import parse_manifest
from model_deploy.manifest.model import ModelRef

DeployResult = Literal["in_progress", "success", "failure"]
FAILED_LABEL = "slipway:deploy-failed"


@dataclass
class DeployReport:
    """What ``report-deploy`` did.

    Attributes:
        env: Environment.
        sha: Deployed commit.
        result: Reported result.
        model_ref: Version the commit's manifest names.
        deployment: The deployment record.
        added: Deployment statuses added by this call.
        comment: The result comment on the pull request.
        rejected: Whether the version was marked Rejected by this call.
        revert: The revert pull request, when one was proposed.
        issue: The failure issue.
        notes: What was skipped and why.
    """

    env: str
    sha: str
    result: DeployResult
    model_ref: str | None
    deployment: Deployment
    added: list[DeploymentStatus] = field(default_factory=list)
    comment: StickyResult | None = None
    rejected: bool = False
    revert: PromotionResult | None = None
    issue: Issue | None = None
    notes: list[str] = field(default_factory=list)


def report_deploy(
    *,
    forge: Forge,
    env: str,
    sha: str,
    result: DeployResult,
    pr_number: int | None,
    log_url: str | None,
    registries: RegistryOpener,
    planner: Planner,
    manifests_dir: str,
    base: str,
) -> DeployReport:
    """Record a deploy result and, on failure, reject, revert and open an issue.

    Args:
        sha: Commit deployed (the merge commit).
        result: ``in_progress``, ``success`` or ``failure`` (after the automatic rollback).
        planner: Plans the revert.
        base: Branch a revert targets.

    Raises:
        DeployReportError: Some follow-up could not be done (all others were).
    """
    path = manifest_path(manifests_dir, env)
    model = _model_at(forge, path=path, ref=sha, env=env)
    ref = model.ref if model else None
    found = forge.list_deployments(sha=sha, environment=env)
    deployment = (
        found[0]
        if found
        else forge.create_deployment(
            sha=sha,
            environment=env,
            description=f"{ref or 'nothing'} to {env}",
            payload={"model": ref, "pr": pr_number, "manifest": path},
        )
    )
    report = DeployReport(env=env, sha=sha, result=result, model_ref=ref, deployment=deployment)
    states = [s.state for s in forge.list_deployment_statuses(deployment_id=deployment.id)]
    wanted: list[DeployResult] = ["in_progress"] if "in_progress" not in states else []
    if result != "in_progress" and (not states or states[-1] != result):
        wanted.append(result)
    for state in wanted:
        status = DeploymentStatus(state, _sentence(state, ref, env), log_url)
        report.added.append(
            forge.create_deployment_status(deployment_id=deployment.id, status=status)
        )
    problems: list[str] = []
    if pr_number is not None:
        text = _comment(report, log_url)
        report.comment = upsert_sticky(
            forge,
            number=pr_number,
            key=f"deploy:{env}:{sha[:12]}",
            body=text,
            digest=digest_of(text),
        )
    if result == "failure" and model is not None:
        report.rejected = _reject(registries, model, env, sha, pr_number, log_url, problems)
        report.revert = _revert(
            forge,
            model,
            env=env,
            sha=sha,
            pr_number=pr_number,
            registries=registries,
            planner=planner,
            manifests_dir=manifests_dir,
            base=base,
            notes=report.notes,
            problems=problems,
        )
        report.issue = _issue(forge, report, model, pr_number=pr_number, log_url=log_url)
    if problems:
        raise DeployReportError("; ".join(problems))
    return report


def _model_at(forge: Files, *, path: str, ref: str, env: str) -> ModelRef | None:
    text = forge.read_file(path=path, ref=ref)
    if text is None:
        raise DeployReportError(f"{path} does not exist at {ref[:12]}")
    try:
        return parse_manifest(text=text, source=path, expected_env=env).manifest.model
    except DeployError as exc:
        raise DeployReportError(str(exc)) from exc


def _sentence(state: DeployResult, ref: str | None, env: str) -> str:
    what = ref or "nothing (model: null)"
    return {
        "in_progress": f"Deploying {what} to {env}",
        "success": f"Deployed {what} to {env}",
        "failure": f"Deploy of {what} to {env} failed; rolled back",
    }[state]


def _comment(report: DeployReport, log_url: str | None) -> str:
    icon = {"in_progress": "🚀", "success": "✅", "failure": "❌"}[report.result]
    log = f" · [deploy log]({log_url})" if log_url else ""
    lines = [
        f"{icon} **{_sentence(report.result, report.model_ref, report.env)}** from "
        f"`{report.sha[:12]}` (deployment {report.deployment.id}){log}.",
    ]
    if report.result == "failure":
        lines += [
            "",
            "The deployer rolled the environment back to its previous deployment. The version "
            "is marked Rejected in the registry, and a revert pull request puts the manifest "
            "back so git matches what serves.",
        ]
    return "\n".join(lines) + "\n"


def _reject(
    registries: RegistryOpener,
    model: ModelRef,
    env: str,
    sha: str,
    pr_number: int | None,
    log_url: str | None,
    problems: list[str],
) -> bool:
    where = f" (#{pr_number})" if pr_number else ""
    reason = f"deploy to {env} failed at {sha[:12]}{where}" + (
        f"; log {log_url}" if log_url else ""
    )
    try:
        registry = registries(model.registry)
        record = registry.get(model_name=model.name, version=model.version)
        if record.status == ApprovalStatus.REJECTED:
            return False
        registry.set_status(
            model_name=model.name,
            version=model.version,
            status=ApprovalStatus.REJECTED,
            reason=reason,
        )
    except BuildError as exc:
        problems.append(f"could not mark {model.ref} Rejected: {exc}")
        return False
    return True


def _revert(
    forge: Forge,
    model: ModelRef,
    *,
    env: str,
    sha: str,
    pr_number: int | None,
    registries: RegistryOpener,
    planner: Planner,
    manifests_dir: str,
    base: str,
    notes: list[str],
    problems: list[str],
) -> PromotionResult | None:
    pr = forge.get_pr(number=pr_number) if pr_number is not None else None
    if pr is not None and pr.head.startswith("slipway/revert-"):
        notes.append("the failed deploy was itself a revert; no revert of the revert")
        return None
    found, previous = previous_model(pr.body) if pr is not None else (False, None)
    if not found:
        problems.append(
            f"cannot tell which version {env} served before {model.ref} (no promotion "
            "metadata on the pull request); revert the manifest by hand"
        )
        return None
    path = manifest_path(manifests_dir, env)
    base_text = forge.read_file(path=path, ref=base)
    current = _model_at(forge, path=path, ref=base, env=env) if base_text is not None else None
    if base_text is None or current != model:
        notes.append(f"{path} on {base} no longer names {model.ref}; no revert needed")
        return None
    record: ModelVersion | None = None
    if previous is not None:
        try:
            record = registries(previous.registry).get(
                model_name=previous.name, version=previous.version
            )
        except BuildError as exc:
            problems.append(f"cannot read {previous.ref} for the revert: {exc}")
            return None
    where = f" (#{pr_number})" if pr_number else ""
    proposal = Proposal(
        kind="revert",
        env=env,
        path=path,
        model=previous,
        previous=model,
        record=record,
        why=f"the deploy of `{model.ref}` to `{env}` failed at `{sha[:12]}`{where}",
        command=f"slipway ci report-deploy --env {env} --sha {sha[:12]} --result failure",
    )
    try:
        return propose(
            forge,
            proposal,
            base=base,
            base_text=base_text,
            planner=planner,
            manifests_dir=manifests_dir,
        )
    except CiError as exc:
        problems.append(f"could not open the revert pull request: {exc}")
        return None


def _issue(
    forge: Issues,
    report: DeployReport,
    model: ModelRef,
    *,
    pr_number: int | None,
    log_url: str | None,
) -> Issue:
    key = f"deploy-failed:{report.env}:{model.name}:{model.version}"
    revert = report.revert.pr if report.revert else None
    lines = [
        marker(key),
        f"## ❌ Deploy of `{model.ref}` to `{report.env}` failed",
        "",
        f"- Commit: `{report.sha}` (deployment {report.deployment.id})",
        f"- Pull request: #{pr_number}" if pr_number else "- Pull request: unknown",
        f"- Log: {log_url}" if log_url else "- Log: not given",
        "- The deployer rolled the environment back to its previous deployment.",
        f"- Registry: `{model.ref}` is marked Rejected",
        f"- Revert: #{revert.number}" if revert else "- Revert: none opened",
        *[f"- Note: {note}" for note in report.notes],
        "",
        f"Promoting `{model.ref}` again needs `--override-rejection`.",
    ]
    body = "\n".join(lines) + "\n"
    existing = forge.find_issue(marker=marker(key), label=FAILED_LABEL)
    if existing is None:
        return forge.create_issue(
            title=f"Deploy of {model.ref} to {report.env} failed",
            body=body,
            labels=(FAILED_LABEL, f"env:{report.env}"),
        )
    if existing.body == body:
        return existing
    return forge.update_issue(number=existing.number, edit=IssueEdit(body=body))
