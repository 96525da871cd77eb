"""The GitHub forge's commit statuses and deployments (REST through PyGithub).

Creating a deployment after a 5xx first looks for the one the lost answer may have created,
so nothing is made twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci.forge.github.client import GitHubClient
from ci.forge.github.convert import commit_state, deployment_state, to_deployment
from ci.forge.records import CommitStatus, Deployment, DeploymentStatus, short


class GitHubChecks(GitHubClient):
    """Commit statuses and deployments of one GitHub repository."""

    def set_status(self, *, sha: str, status: CommitStatus) -> CommitStatus:
        """Set a commit status (description cut to GitHub's 140 characters)."""
        kept = CommitStatus(
            status.context, status.state, short(status.description), status.target_url
        )

        def post() -> CommitStatus:
            commit = self._r().get_commit(sha)
            if kept.target_url:
                commit.create_status(kept.state, kept.target_url, kept.description, kept.context)
            else:
                commit.create_status(kept.state, description=kept.description, context=kept.context)
            return kept

        return self._call(f"set status {kept.context} on {sha[:12]}", post)

    def list_statuses(self, *, sha: str) -> list[CommitStatus]:
        """Latest status per context (GitHub lists newest first)."""

        def read() -> list[CommitStatus]:
            latest: dict[str, CommitStatus] = {}
            for s in self._r().get_commit(sha).get_statuses():
                latest.setdefault(
                    s.context,
                    CommitStatus(
                        s.context, commit_state(s.state), s.description or "", s.target_url
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
                description=short(description),
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
        """Statuses of a deployment, oldest first (GitHub lists newest first)."""
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
        self, *, deployment_id: int, status: DeploymentStatus
    ) -> DeploymentStatus:
        """Add a deployment status (description cut to GitHub's 140 characters)."""
        kept = DeploymentStatus(status.state, short(status.description), status.log_url)

        def post() -> DeploymentStatus:
            deployment = self._r().get_deployment(deployment_id)
            if kept.log_url:
                deployment.create_status(
                    kept.state, target_url=kept.log_url, description=kept.description
                )
            else:
                deployment.create_status(kept.state, description=kept.description)
            return kept

        return self._call(f"set deployment {deployment_id} {kept.state}", post)
