"""The GitHub forge's commit statuses, deployments and issues (REST through PyGithub).

:class:`GitHubRecords` is the half of :class:`~ci.forge.github.GitHubForge` that needs no
branch or pull request logic. Creating a deployment or an issue after a 5xx first looks for
the one the lost answer may have created, so nothing is made twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from github.GithubObject import NotSet

from ci.forge.github_client import (
    GitHubClient,
    commit_state,
    deployment_state,
    short,
    to_deployment,
    to_issue,
)
from ci.forge.protocol import (
    CommitState,
    CommitStatus,
    Deployment,
    DeploymentState,
    DeploymentStatus,
    Issue,
    IssueState,
)


class GitHubRecords(GitHubClient):
    """Commit statuses, deployments and issues of one GitHub repository."""

    # -- statuses and deployments -------------------------------------------------------

    def set_status(
        self,
        *,
        sha: str,
        context: str,
        state: CommitState,
        description: str,
        target_url: str | None = None,
    ) -> CommitStatus:
        """Set a commit status (description cut to GitHub's 140 characters)."""
        text = short(description, 140)

        def post() -> CommitStatus:
            commit = self._r().get_commit(sha)
            if target_url:
                commit.create_status(state, target_url, text, context)
            else:
                commit.create_status(state, description=text, context=context)
            return CommitStatus(context, state, text, target_url)

        return self._call(f"set status {context} on {sha[:12]}", post)

    def list_statuses(self, *, sha: str) -> list[CommitStatus]:
        """Latest status per context (GitHub lists newest first)."""

        def read() -> list[CommitStatus]:
            latest: dict[str, CommitStatus] = {}
            for status in self._r().get_commit(sha).get_statuses():
                latest.setdefault(
                    status.context,
                    CommitStatus(
                        status.context,
                        commit_state(status.state),
                        status.description or "",
                        status.target_url,
                    ),
                )
            return list(latest.values())

        return self._call(f"read statuses of {sha[:12]}", read)

    def list_deployments(self, *, sha: str, environment: str) -> list[Deployment]:
        """Deployments of ``sha`` to ``environment``, newest first."""
        return self._call(
            f"list deployments of {sha[:12]} to {environment}",
            lambda: [
                to_deployment(d)
                for d in self._r().get_deployments(sha=sha, environment=environment)
            ],
        )

    def create_deployment(
        self, *, sha: str, environment: str, description: str, payload: Mapping[str, Any]
    ) -> Deployment:
        """Record a deployment (no required contexts, no auto-merge)."""

        def create() -> Deployment:
            made = self._r().create_deployment(
                ref=sha,
                environment=environment,
                description=short(description, 140),
                payload=dict(payload),
                auto_merge=False,
                required_contexts=[],
                transient_environment=False,
            )
            return to_deployment(made)

        def made() -> Deployment | None:
            found = self.list_deployments(sha=sha, environment=environment)
            return found[0] if found and dict(found[0].payload) == dict(payload) else None

        return self._call(
            f"create a deployment of {sha[:12]} to {environment}",
            create,
            idempotent=False,
            recheck=made,
        )

    def list_deployment_statuses(self, *, deployment_id: int) -> list[DeploymentStatus]:
        """Statuses of a deployment, oldest first."""
        return self._call(
            f"list statuses of deployment {deployment_id}",
            lambda: [
                DeploymentStatus(
                    deployment_state(s.state), s.description or "", s.target_url or None
                )
                for s in self._r().get_deployment(deployment_id).get_statuses()
            ][::-1],
        )

    def create_deployment_status(
        self,
        *,
        deployment_id: int,
        state: DeploymentState,
        description: str,
        log_url: str | None = None,
    ) -> DeploymentStatus:
        """Add a deployment status."""
        text = short(description, 140)

        def post() -> DeploymentStatus:
            deployment = self._r().get_deployment(deployment_id)
            if log_url:
                deployment.create_status(state, target_url=log_url, description=text)
            else:
                deployment.create_status(state, description=text)
            return DeploymentStatus(state, text, log_url)

        return self._call(f"set deployment {deployment_id} {state}", post)

    # -- issues -------------------------------------------------------------------------

    def find_issue(self, *, marker: str, label: str) -> Issue | None:
        """The open issue labelled ``label`` whose body holds ``marker``."""

        def find() -> Issue | None:
            for issue in self._r().get_issues(state="open", labels=[label]):
                if issue.pull_request is None and marker in (issue.body or ""):
                    return to_issue(issue)
            return None

        return self._call(f"find the issue labelled {label}", find)

    def create_issue(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        """Open an issue."""

        def opened() -> Issue | None:
            for issue in self._r().get_issues(state="open", labels=list(labels[:1])):
                if issue.pull_request is None and (issue.body or "") == body:
                    return to_issue(issue)
            return None

        return self._call(
            f"open issue {title!r}",
            lambda: to_issue(self._r().create_issue(title=title, body=body, labels=list(labels))),
            idempotent=False,
            recheck=opened,
        )

    def update_issue(
        self,
        *,
        number: int,
        title: str | None = None,
        body: str | None = None,
        state: IssueState | None = None,
    ) -> Issue:
        """Edit an issue."""

        def edit() -> Issue:
            issue = self._r().get_issue(number)
            issue.edit(title=opt(title), body=opt(body), state=opt(state))
            return to_issue(issue)

        return self._call(f"edit issue #{number}", edit)


def opt(value: str | None) -> Any:
    """PyGithub's NotSet for None (the field is left as is), else the value."""
    return NotSet if value is None else value
