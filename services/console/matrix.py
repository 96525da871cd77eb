"""Page 1: environments x models, each cell desired vs live, health and the last promotion."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from model_deploy.manifest.sources import split_key
from model_deploy.status import EnvStatus
from services.console.gitlog import ManifestCommit, branch_deployment
from services.console.readers import Readers

State = Literal["synced", "drifted", "deploying", "error"]


@dataclass(frozen=True)
class Promotion:
    """The last merged pull request (or commit) that changed a deployment's manifest."""

    sha: str
    author: str
    at: datetime
    pr_number: int | None
    pr_url: str | None
    kind: str | None


@dataclass(frozen=True)
class Cell:
    """One deployment (a model in an environment)."""

    key: str
    env: str
    model: str
    state: State
    desired: str | None
    serving: str | None
    healthy: bool
    drift: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    in_progress: str | None = None
    error: str | None = None
    last_deploy: str | None = None
    registry_status: str | None = None
    promotion: Promotion | None = None
    monitor: dict[str, Any] | None = None
    pending: int | None = None
    read_at: datetime | None = None

    @property
    def version(self) -> str:
        """The desired version number (``-`` for ``model: null``)."""
        return self.desired.rpartition(":")[2] if self.desired else "-"


@dataclass(frozen=True)
class Matrix:
    """Rows of models, columns of environments."""

    environments: list[str]
    models: list[str]
    cells: dict[tuple[str, str], Cell]

    def oldest(self) -> datetime | None:
        """When the oldest status shown was read."""
        times = [c.read_at for c in self.cells.values() if c.read_at is not None]
        return min(times) if times else None

    def counts(self) -> dict[str, int]:
        """How many cells are in each state."""
        out: dict[str, int] = {}
        for cell in self.cells.values():
            out[cell.state] = out.get(cell.state, 0) + 1
        return out


def state_of(status: EnvStatus) -> State:
    """``deploying`` while a run holds the lock, ``error`` when unreadable, else synced/drifted."""
    if status.in_progress:
        return "deploying"
    if status.error:
        return "error"
    return "synced" if status.in_sync else "drifted"


def last_promotions(readers: Readers) -> dict[str, Promotion]:
    """The newest commit of the base branch that changed each deployment (merges preferred)."""
    found: dict[str, Promotion] = {}
    for commit in readers.log:
        for key in commit.deployments:
            if key not in found:
                found[key] = _promotion(commit, readers)
    return found


def _promotion(commit: ManifestCommit, readers: Readers) -> Promotion:
    number = commit.pr_number
    return Promotion(
        sha=commit.sha,
        author=commit.author,
        at=commit.at,
        pr_number=number,
        pr_url=readers.pr_web_url(number) if number is not None else None,
        kind=commit.kind,
    )


def cell_of(
    status: EnvStatus,
    readers: Readers,
    promotion: Promotion | None,
    pending: int | None = None,
    read_at: datetime | None = None,
) -> Cell:
    """The cell of one deployment's status (``pending``: its open promotion pull request)."""
    env, model = split_key(status.env)
    monitor = readers.monitor_summary(status.env)
    return Cell(
        key=status.env,
        env=env,
        model=model,
        state=state_of(status),
        desired=status.desired_ref,
        serving=status.serving_ref,
        healthy=status.healthy,
        drift=list(status.drift),
        warnings=list(status.warnings),
        in_progress=status.in_progress,
        error=status.error,
        last_deploy=status.last_deploy,
        registry_status=status.registry_status,
        promotion=promotion,
        monitor=_monitor(monitor) if monitor else None,
        pending=pending,
        read_at=read_at,
    )


def _monitor(summary: dict[str, Any]) -> dict[str, Any]:
    """Status, violation count, drift and the newest inference of a monitoring summary."""
    violations = summary.get("violations")
    drift = summary.get("drift") if isinstance(summary.get("drift"), dict) else {}
    window = summary.get("window") if isinstance(summary.get("window"), dict) else {}
    drifted = bool(summary.get("drifted_columns")) or bool(
        (drift or {}).get("dataset_drift") or (drift or {}).get("drifted")
    )
    return {
        "status": str(summary.get("status", "unknown")),
        "violations": len(violations) if isinstance(violations, list) else 0,
        "drifted": drifted,
        "last": (window or {}).get("last_inference_time"),
    }


def pending_promotions(readers: Readers) -> dict[str, int]:
    """The open Slipway pull request of each deployment that has one (the lowest number)."""
    found: dict[str, int] = {}
    for pr in sorted(readers.open_prs, key=lambda p: p.number):
        deployment = branch_deployment(pr.head)
        if deployment is not None:
            found.setdefault(deployment[1], pr.number)
    return found


def build_matrix(readers: Readers, *, env: str | None = None) -> Matrix:
    """The matrix of every deployment (of ``env`` only, when given)."""
    promotions = last_promotions(readers)
    pending = pending_promotions(readers)
    cells: dict[tuple[str, str], Cell] = {}
    models: list[str] = []
    keys = [k for k in readers.deployments if env is None or k.partition("/")[0] == env]
    for key, timed in readers.statuses_of(keys).items():
        cell = cell_of(timed.status, readers, promotions.get(key), pending.get(key), timed.read_at)
        cells[(cell.model, cell.env)] = cell
        if cell.model not in models:
            models.append(cell.model)
    environments = readers.environments if env is None else [env]
    return Matrix(environments=environments, models=sorted(models), cells=cells)
