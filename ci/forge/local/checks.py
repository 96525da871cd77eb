"""The local forge's commit statuses and deployments (JSON records)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci.errors import ForgeNotFoundError
from ci.forge.local.base import LocalBase
from ci.forge.local.store import DeploymentRecord, DeploymentStatusRecord, StatusRecord
from ci.forge.records import CommitStatus, Deployment, DeploymentStatus, short


class LocalChecks(LocalBase):
    """Commit statuses (latest per context) and deployments with their statuses."""

    def set_status(self, *, sha: str, status: CommitStatus) -> CommitStatus:
        """Set a commit status (description cut to 140 characters)."""
        kept = CommitStatus(
            status.context, status.state, short(status.description), status.target_url
        )
        with self.store.locked():
            statuses = self.store.statuses(sha)
            statuses[kept.context] = StatusRecord(
                context=kept.context,
                state=kept.state,
                description=kept.description,
                target_url=kept.target_url,
                at=self.clock(),
            )
            self.store.save_statuses(sha, statuses)
        return kept

    def list_statuses(self, *, sha: str) -> list[CommitStatus]:
        """Latest status per context."""
        return [
            CommitStatus(s.context, s.state, s.description, s.target_url)
            for s in self.store.statuses(sha).values()
        ]

    def list_deployments(self, *, sha: str, environment: str) -> list[Deployment]:
        """Deployments of ``sha`` to ``environment``, newest first."""
        found = [
            d for d in self.store.deployments() if d.sha == sha and d.environment == environment
        ]
        return [_deployment(d) for d in reversed(found)]

    def create_deployment(
        self, *, sha: str, environment: str, description: str, payload: Mapping[str, Any]
    ) -> Deployment:
        """Record a deployment."""
        with self.store.locked():
            record = DeploymentRecord(
                id=self.store.next_id("deployment"),
                sha=sha,
                environment=environment,
                description=short(description),
                payload=dict(payload),
                created_at=self.clock(),
            )
            self.store.save_deployment(record)
        return _deployment(record)

    def list_deployment_statuses(self, *, deployment_id: int) -> list[DeploymentStatus]:
        """Statuses of a deployment, oldest first."""
        return [
            DeploymentStatus(s.state, s.description, s.log_url)
            for s in self._deployment_record(deployment_id).statuses
        ]

    def create_deployment_status(
        self, *, deployment_id: int, status: DeploymentStatus
    ) -> DeploymentStatus:
        """Add a deployment status (description cut to 140 characters)."""
        kept = DeploymentStatus(status.state, short(status.description), status.log_url)
        with self.store.locked():
            record = self._deployment_record(deployment_id)
            stored = DeploymentStatusRecord(
                state=kept.state,
                description=kept.description,
                log_url=kept.log_url,
                at=self.clock(),
            )
            self.store.save_deployment(
                record.model_copy(update={"statuses": [*record.statuses, stored]})
            )
        return kept

    def _deployment_record(self, deployment_id: int) -> DeploymentRecord:
        record = self.store.deployment(deployment_id)
        if record is None:
            raise ForgeNotFoundError(f"deployment {deployment_id} does not exist")
        return record


def _deployment(record: DeploymentRecord) -> Deployment:
    return Deployment(
        id=record.id,
        sha=record.sha,
        environment=record.environment,
        description=record.description,
        payload=record.payload,
    )
