"""The local forge's records: pull requests, issues, comments, statuses and deployments as JSON.

Layout (default root ``<git dir>/slipway``, outside the work tree)::

    <root>/.lock                 fcntl lock held by every change
    <root>/counters.json         next pull request/issue number, comment id, deployment id
    <root>/prs/<n>.json          one pull request with its comments and approvals
    <root>/issues/<n>.json       one issue with its comments
    <root>/statuses/<sha>.json   latest commit status per context
    <root>/deployments/<id>.json one deployment with its statuses
    <root>/teams.json            team (``org/slug``) -> member names, for CODEOWNERS teams

Files are written to a temporary name and renamed, so a crash never leaves half a record.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ci.errors import ForgeError
from foundation.files import write_text_atomic

CounterKind = Literal["number", "comment", "deployment"]
M = TypeVar("M", bound=BaseModel)


class CommentRecord(BaseModel):
    """A stored comment."""

    model_config = ConfigDict(extra="forbid")

    id: int
    body: str
    author: str
    created_at: datetime
    updated_at: datetime


class ApprovalRecord(BaseModel):
    """An approval of one exact head commit (moving the branch dismisses it)."""

    model_config = ConfigDict(extra="forbid")

    reviewer: str
    sha: str
    at: datetime


class ThreadRecord(BaseModel):
    """What pull requests and issues share: number, text, state, labels, comments."""

    model_config = ConfigDict(extra="forbid")

    number: int
    title: str
    body: str
    labels: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    comments: list[CommentRecord] = Field(default_factory=list)


class PrRecord(ThreadRecord):
    """A stored pull request."""

    head: str
    base: str
    state: Literal["open", "closed", "merged"] = "open"
    head_sha: str | None = None
    merge_sha: str | None = None
    approvals: list[ApprovalRecord] = Field(default_factory=list)


class IssueRecord(ThreadRecord):
    """A stored issue."""

    state: Literal["open", "closed"] = "open"


class StatusRecord(BaseModel):
    """The latest status of one context on one commit."""

    model_config = ConfigDict(extra="forbid")

    context: str
    state: Literal["pending", "success", "failure", "error"]
    description: str
    target_url: str | None = None
    at: datetime


class DeploymentStatusRecord(BaseModel):
    """One deployment status."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["queued", "pending", "in_progress", "success", "failure", "error", "inactive"]
    description: str
    log_url: str | None = None
    at: datetime


class DeploymentRecord(BaseModel):
    """A stored deployment."""

    model_config = ConfigDict(extra="forbid")

    id: int
    sha: str
    environment: str
    description: str
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    statuses: list[DeploymentStatusRecord] = Field(default_factory=list)


class LocalStore:
    """JSON records under one folder (``root``, created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (every read-modify-write runs under it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def next_id(self, kind: CounterKind) -> int:
        """Take the next number of a kind (call under :meth:`locked`)."""
        path = self.root / "counters.json"
        counters: dict[str, int] = {}
        if path.is_file():
            counters = json.loads(path.read_text(encoding="utf-8"))
        value = int(counters.get(kind, 0)) + 1
        counters[kind] = value
        _write(path, json.dumps(counters, indent=2, sort_keys=True))
        return value

    def pr(self, number: int) -> PrRecord | None:
        """One pull request record."""
        return self._read(PrRecord, self.root / "prs" / f"{number}.json")

    def prs(self) -> list[PrRecord]:
        """Every pull request record, by number."""
        return self._all(PrRecord, "prs")

    def issue(self, number: int) -> IssueRecord | None:
        """One issue record."""
        return self._read(IssueRecord, self.root / "issues" / f"{number}.json")

    def issues(self) -> list[IssueRecord]:
        """Every issue record, by number."""
        return self._all(IssueRecord, "issues")

    def save_pr(self, record: PrRecord) -> None:
        """Write a pull request record."""
        self._save(self.root / "prs" / f"{record.number}.json", record)

    def save_issue(self, record: IssueRecord) -> None:
        """Write an issue record."""
        self._save(self.root / "issues" / f"{record.number}.json", record)

    def statuses(self, sha: str) -> dict[str, StatusRecord]:
        """Latest status per context on a commit."""
        path = self.root / "statuses" / f"{sha}.json"
        if not path.is_file():
            return {}
        raw = self._json(path)
        try:
            return {key: StatusRecord.model_validate(value) for key, value in raw.items()}
        except (ValidationError, AttributeError) as exc:
            raise ForgeError(f"{path}: not a local forge status file") from exc

    def save_statuses(self, sha: str, statuses: dict[str, StatusRecord]) -> None:
        """Write the statuses of a commit."""
        doc = {key: value.model_dump(mode="json") for key, value in statuses.items()}
        _write(self.root / "statuses" / f"{sha}.json", json.dumps(doc, indent=2))

    def deployment(self, deployment_id: int) -> DeploymentRecord | None:
        """One deployment record."""
        return self._read(DeploymentRecord, self.root / "deployments" / f"{deployment_id}.json")

    def deployments(self) -> list[DeploymentRecord]:
        """Every deployment record, by id."""
        return self._all(DeploymentRecord, "deployments")

    def save_deployment(self, record: DeploymentRecord) -> None:
        """Write a deployment record."""
        self._save(self.root / "deployments" / f"{record.id}.json", record)

    def teams(self) -> dict[str, list[str]]:
        """Members by team (``org/slug``); empty when no team was set."""
        path = self.root / "teams.json"
        if not path.is_file():
            return {}
        raw = self._json(path)
        if not isinstance(raw, dict) or not all(
            isinstance(v, list) and all(isinstance(m, str) for m in v) for v in raw.values()
        ):
            raise ForgeError(f"{path}: not a local forge teams file")
        return {str(k): list(v) for k, v in raw.items()}

    def save_teams(self, teams: dict[str, list[str]]) -> None:
        """Write the team members (call under :meth:`locked`)."""
        _write(self.root / "teams.json", json.dumps(teams, indent=2, sort_keys=True))

    def _all(self, model: type[M], folder: str) -> list[M]:
        directory = self.root / folder
        if not directory.is_dir():
            return []
        paths = sorted(
            (p for p in directory.glob("*.json") if p.stem.isdigit()), key=lambda p: int(p.stem)
        )
        return [record for p in paths if (record := self._read(model, p)) is not None]

    def _read(self, model: type[M], path: Path) -> M | None:
        if not path.is_file():
            return None
        try:
            return model.model_validate(self._json(path))
        except ValidationError as exc:
            raise ForgeError(f"{path}: not a valid local forge record") from exc

    @staticmethod
    def _json(path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ForgeError(f"{path}: cannot read the local forge record: {exc}") from exc

    @staticmethod
    def _save(path: Path, record: BaseModel) -> None:
        _write(path, record.model_dump_json(indent=2))


def _write(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text + "\n")
    except OSError as exc:
        raise ForgeError(f"{path}: cannot write the local forge record: {exc}") from exc
