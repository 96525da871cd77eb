"""What every part of the local forge shares: the git repository, the record store, the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ci.errors import ForgeNotFoundError
from ci.forge.local.git import Git
from ci.forge.local.store import LocalStore, PrRecord
from ci.forge.records import BranchProtection

#: Author of the comments the automation posts on the local forge.
BOT = "slipway"


class LocalBase:
    """The repository (``repo``: a folder of its work tree) and its records.

    Records live in ``state_dir`` (default ``<git dir>/slipway``, found on first use).
    ``protection`` is what a merge needs, as GitHub's branch protection would say it
    (default: an approval of the current head, ``slipway/plan`` and ``slipway/policy``
    successful on it, and a branch up to date with its base).
    """

    name = "local"

    def __init__(
        self,
        *,
        repo: Path,
        state_dir: Path | None = None,
        protection: BranchProtection | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.git = Git(repo)
        self.where = str(self.git.work_tree)
        self.clock = clock
        self.protection = protection or BranchProtection()
        self._state_dir = state_dir
        self._store: LocalStore | None = None

    def __repr__(self) -> str:
        return f"LocalForge(repo={str(self.git.work_tree)!r})"

    @property
    def store(self) -> LocalStore:
        """The record store (its folder is found on first use)."""
        if self._store is None:
            self._store = LocalStore(self._state_dir or self.git.git_dir() / "slipway")
        return self._store

    def branch_sha(self, *, branch: str) -> str | None:
        """Head commit of ``branch``, or None."""
        return self.git.rev_parse(f"refs/heads/{branch}")

    def _pr_record(self, number: int) -> PrRecord:
        record = self.store.pr(number)
        if record is None:
            raise ForgeNotFoundError(f"pull request #{number} does not exist")
        return record

    def _head_sha(self, record: PrRecord) -> str:
        """The commit a pull request is about: the head when merged, else its branch's head."""
        if record.state != "open" and record.head_sha:
            return record.head_sha
        sha = self.branch_sha(branch=record.head)
        if sha is None:
            raise ForgeNotFoundError(
                f"branch {record.head} of pull request #{record.number} is gone"
            )
        return sha
