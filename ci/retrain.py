"""``slipway ci retrain``: retrain by pull request when monitoring finds violations.

For one deployment (environment and model) and one monitoring result:

* **Violations**: ONE retrain pull request per model, from the fixed branch
  ``slipway/retrain-<model>``, commits ``model_build/models/<model>/RETRAIN.json`` (the stamp:
  see :mod:`ci.retrain_render`), which the model-build workflow's path filter picks up; its
  body records, per environment, the violations, the window, the version monitored and the
  report link. ONE issue per deployment (marker ``<!-- slipway:retrain:<env>/<model> -->``,
  label ``slipway:monitor``) lists the violations with their numbers and links the pull
  request. Re-runs update both, never duplicate them: the stamp is committed only when the
  violations (without numbers) change, the bodies are edited only when their digest changes.
* **After a merge**: while the issue stays open and the same version is monitored, a merged
  (or closed) retrain pull request is not reopened: the retrained version has not reached the
  environment yet (or a human declined). A new one opens when a different version still
  violates, or once the issue was closed.
* **Clean run**: the open issue gets a comment and is closed; the retrain pull request, if
  open, gets a comment and is left open (forges here never close pull requests on their own,
  and another environment may still need the retrain): close it by hand if not wanted.
* **Failed run** (nothing analysed): nothing is touched.

Order: stamp, pull request, issue. A failure part-way (the pull request opened, the issue
not) converges on the next run: the open pull request is adopted, the issue opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from ci.errors import CiError, ForgeNotFoundError
from ci.forge.protocol import Comments, Files, Issues, PullRequests
from ci.forge.records import FileCommit, Issue, IssueEdit, PullRequest
from ci.markers import marker, parse_digest, parse_meta
from ci.retrain_input import MonitorFindings
from ci.retrain_render import (
    cleared_text,
    issue_body,
    issue_title,
    latest_entry,
    pr_body,
    pr_title,
    read_stamp,
    stamp_text,
)
from ci.steps.pull_request import open_or_adopt

MONITOR_LABEL = "slipway:monitor"
RETRAIN_LABEL = "slipway:retrain"
MODELS_DIR = "model_build/models"
STAMP_FILE = "RETRAIN.json"

RetrainAction = Literal["requested", "pending", "closed", "none", "inconclusive"]
ThreadAction = Literal["created", "updated", "unchanged", "closed", "pending", "commented"]


class RetrainForge(Files, PullRequests, Issues, Comments, Protocol):
    """What a retrain request needs: a file on a branch, a pull request, an issue, comments."""


@dataclass(frozen=True)
class RetrainResult:
    """What ``slipway ci retrain`` did for one deployment.

    Attributes:
        action: ``requested`` (violations; the PR and issue are open), ``pending`` (violations;
            a retrain was merged or declined for this version, the issue is updated),
            ``closed`` (clean; the issue was closed), ``none`` (clean, no issue) or
            ``inconclusive`` (the run analysed nothing; nothing touched).
        issue_action: ``created``, ``updated``, ``unchanged`` or ``closed`` (None: untouched).
        pr_action: ``created``, ``updated``, ``unchanged``, ``pending`` (the earlier, merged
            or closed, one stands) or ``commented`` (clean run) (None: untouched).
        commit: The stamp commit (``changed`` False: the branch already had it).
        violations: The violations without numbers (``<check>: <feature>``).
    """

    env: str
    model: str
    action: RetrainAction
    issue: Issue | None = None
    issue_action: ThreadAction | None = None
    pr: PullRequest | None = None
    pr_action: ThreadAction | None = None
    commit: FileCommit | None = None
    violations: tuple[str, ...] = ()
    branch: str = ""

    def to_json(self) -> dict[str, Any]:
        """The result as ``--format json`` prints it."""
        return {
            "env": self.env,
            "model": self.model,
            "action": self.action,
            "violations": list(self.violations),
            "issue": self.issue.number if self.issue else None,
            "issue_url": self.issue.url if self.issue else None,
            "issue_action": self.issue_action,
            "pr": self.pr.number if self.pr else None,
            "pr_url": self.pr.url if self.pr else None,
            "pr_state": self.pr.state if self.pr else None,
            "pr_action": self.pr_action,
            "branch": self.branch,
            "commit": self.commit.sha if self.commit else None,
            "committed": bool(self.commit and self.commit.changed),
        }


def retrain_branch(model: str) -> str:
    """The fixed branch of a model's retrain pull request: ``slipway/retrain-<model>``."""
    return f"slipway/retrain-{model}"


def stamp_path(model: str, *, models_dir: str = MODELS_DIR) -> str:
    """Where the stamp lives: ``model_build/models/<model>/RETRAIN.json``."""
    return f"{models_dir}/{model}/{STAMP_FILE}"


def issue_key(env: str, model: str) -> str:
    """The marker key of a deployment's issue: ``retrain:<env>/<model>``."""
    return f"retrain:{env}/{model}"


def request_retrain(
    *,
    forge: RetrainForge,
    env: str,
    model: str,
    findings: MonitorFindings,
    now: datetime,
    base: str,
    report_url: str | None = None,
    run_url: str | None = None,
    models_dir: str = MODELS_DIR,
) -> RetrainResult:
    """Open, update or close the retrain pull request and issue of ``env``/``model``.

    Raises:
        CiError: ``env`` or ``model`` is not a plain name.
        ForgeError: The forge failed (re-running converges).
    """
    for name, value in (("environment", env), ("model", model)):
        if not value or "/" in value or value.strip() != value or " " in value:
            raise CiError(f"the {name} must be a plain name, got {value!r}")
    existing = forge.find_issue(marker=marker(issue_key(env, model)), label=MONITOR_LABEL)
    if not findings.conclusive:
        return RetrainResult(env, model, "inconclusive", issue=existing, branch="")
    job = _Job(forge, env, model, findings, now, base, report_url, run_url, models_dir)
    if not findings.violated:
        return job.clear(existing)
    return job.raise_(existing)


@dataclass(frozen=True)
class _Job:
    forge: RetrainForge
    env: str
    model: str
    findings: MonitorFindings
    now: datetime
    base: str
    report_url: str | None
    run_url: str | None
    models_dir: str

    @property
    def branch(self) -> str:
        return retrain_branch(self.model)

    def raise_(self, existing: Issue | None) -> RetrainResult:
        meta = (parse_meta(existing.body) or {}) if existing else {}
        open_pr = self.forge.find_open_pr(head=self.branch, base=self.base)
        handled = None if open_pr else self._handled(meta)
        commit: FileCommit | None = None
        stamp = ""
        action: RetrainAction = "requested"
        pr_action: ThreadAction
        if handled is not None:
            pr, pr_action, action = handled, "pending", "pending"
            retrain = (
                f"#{pr.number} was {pr.state} for version {_or(self.findings.version)}; no new "
                "retrain pull request opens until a different version is monitored (close this "
                "issue to ask for one now)"
            )
        else:
            commit, stamp = self._commit_stamp(open_pr)
            number = existing.number if existing else None
            pr, pr_action = self._open_pr(open_pr, stamp, issue=number)
            retrain = f"#{pr.number} (merging it retrains `{self.model}`)"
        meta = {"pr": pr.number, "version": self.findings.version}
        body = issue_body(
            env=self.env,
            model=self.model,
            findings=self.findings,
            retrain=retrain,
            meta=meta,
            now=self.now,
            report_url=self.report_url,
            run_url=self.run_url,
        )
        issue, issue_action = self._upsert_issue(existing, body)
        if commit is not None and existing is None:
            # the issue is new: link it from the pull request (a rerun does it if this fails)
            pr, _ = self._open_pr(pr, stamp, issue=issue.number)
        return RetrainResult(
            self.env, self.model, action, issue, issue_action, pr, pr_action, commit,
            self.findings.keys, self.branch,
        )  # fmt: skip

    def _handled(self, meta: dict[str, Any]) -> PullRequest | None:
        """The earlier retrain PR this issue names, if merged or closed for this version."""
        number = meta.get("pr")
        if not isinstance(number, int) or meta.get("version") != self.findings.version:
            return None
        try:
            earlier = self.forge.get_pr(number=number)
        except ForgeNotFoundError:
            return None
        return earlier if earlier.state != "open" and earlier.head == self.branch else None

    def _commit_stamp(self, open_pr: PullRequest | None) -> tuple[FileCommit, str]:
        """Record this run's reason in the stamp on the branch (fresh from the base if no PR)."""
        path = stamp_path(self.model, models_dir=self.models_dir)
        previous = self.forge.read_file(path=path, ref=self.branch) if open_pr else None
        content = stamp_text(
            previous,
            model=self.model,
            env=self.env,
            findings=self.findings,
            now=self.now,
            report_url=self.report_url,
        )
        commit = self.forge.push_file(
            branch=self.branch,
            base=self.base,
            path=path,
            content=content,
            message=f"Retrain {self.model}: monitoring violations in {self.env}\n\n"
            + "\n".join(f"- {key}" for key in self.findings.keys),
            reset=open_pr is None,
        )
        return commit, content

    def _open_pr(
        self, open_pr: PullRequest | None, content: str, *, issue: int | None
    ) -> tuple[PullRequest, ThreadAction]:
        """Open the retrain pull request, or bring the open one's body up to date."""
        path = stamp_path(self.model, models_dir=self.models_dir)
        latest: dict[str, Any] = {}
        if open_pr is not None:
            earlier = (parse_meta(open_pr.body) or {}).get("latest")
            latest = dict(earlier) if isinstance(earlier, dict) else {}
        stamp = read_stamp(content, model=self.model) or {"why": {}}
        latest = {env: item for env, item in latest.items() if env in stamp["why"]}
        latest[self.env] = latest_entry(
            self.findings,
            issue=issue,
            now=self.now,
            report_url=self.report_url,
            run_url=self.run_url,
        )
        pr, pr_action = open_or_adopt(
            self.forge,
            head=self.branch,
            base=self.base,
            title=pr_title(self.model, list(stamp["why"])),
            body=pr_body(model=self.model, path=path, latest=latest),
            labels=(RETRAIN_LABEL, f"model:{self.model}"),
            existing=open_pr,
        )
        return pr, pr_action

    def _upsert_issue(self, existing: Issue | None, body: str) -> tuple[Issue, ThreadAction]:
        title = issue_title(self.env, self.model, self.findings)
        if existing is None:
            labels = (MONITOR_LABEL, f"env:{self.env}", f"model:{self.model}")
            return self.forge.create_issue(title=title, body=body, labels=labels), "created"
        if parse_digest(existing.body) == parse_digest(body) and existing.title == title:
            return existing, "unchanged"
        edit = IssueEdit(title=title, body=body)
        return self.forge.update_issue(number=existing.number, edit=edit), "updated"

    def clear(self, existing: Issue | None) -> RetrainResult:
        if existing is None:
            return RetrainResult(self.env, self.model, "none", branch=self.branch)
        key = f"retrain-cleared:{self.env}/{self.model}:{existing.number}"
        text = cleared_text(
            key=key, env=self.env, model=self.model, now=self.now, run_url=self.run_url
        )
        self._comment_once(existing.number, key, text + " Closing this issue.")
        pr = self.forge.find_open_pr(head=self.branch, base=self.base)
        pr_action: ThreadAction | None = None
        if pr is not None:
            note = (
                f" Issue #{existing.number} is closed; this pull request stays open for the "
                "other environments or a retrain anyway: close it if none is wanted."
            )
            self._comment_once(pr.number, key, text + note)
            pr_action = "commented"
        closed = self.forge.update_issue(number=existing.number, edit=IssueEdit(state="closed"))
        return RetrainResult(
            self.env, self.model, "closed", closed, "closed", pr, pr_action, branch=self.branch
        )

    def _comment_once(self, number: int, key: str, body: str) -> None:
        """Comment on ``number`` unless a comment with this marker is already there."""
        head = marker(key)
        if any(c.body.startswith(head) for c in self.forge.list_comments(number=number)):
            return
        self.forge.create_comment(number=number, body=body)


def _or(value: str | None) -> str:
    return f"`{value}`" if value else "unknown"
