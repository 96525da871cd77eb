"""The one algorithm behind ``push_file``, shared by both adapters.

Create the branch from the base (or move it onto the base with ``reset``), compare the file,
and commit only when its text differs. Adapters supply the git primitives: reading a branch
head, reading a file with its blob id, moving a branch, and committing one file on top of
the branch head.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ci.errors import ForgeNotFoundError
from ci.forge.records import FileCommit


class BranchWriter(ABC):
    """``push_file`` on top of four primitives; ``where`` names the repository in messages."""

    where: str

    @abstractmethod
    def branch_sha(self, *, branch: str) -> str | None:
        """Commit a branch points at, or None when the branch does not exist."""

    @abstractmethod
    def _file_at(self, *, path: str, ref: str) -> tuple[str, str] | None:
        """Text and blob id of ``path`` at ``ref`` (a commit SHA), or None when missing."""

    @abstractmethod
    def _move_branch(self, *, branch: str, sha: str, old: str | None) -> None:
        """Point ``branch`` at ``sha``; ``old`` is where it points now (None: create it)."""

    @abstractmethod
    def _commit_file(
        self, *, branch: str, head: str, path: str, content: str, message: str, blob: str | None
    ) -> str:
        """Commit ``content`` on top of ``head`` and move ``branch`` there; returns the commit.

        ``blob`` is the id of the file being replaced (None: the file is new).
        """

    def push_file(
        self, *, branch: str, base: str, path: str, content: str, message: str, reset: bool
    ) -> FileCommit:
        """Commit ``content`` to ``path`` on ``branch`` (created from ``base`` if missing).

        Raises:
            ForgeNotFoundError: ``base`` does not exist.
        """
        base_sha = self.branch_sha(branch=base)
        if base_sha is None:
            raise ForgeNotFoundError(f"base branch {base} does not exist in {self.where}")
        head = self.branch_sha(branch=branch)
        created = False
        if head is None or (reset and head != base_sha):
            self._move_branch(branch=branch, sha=base_sha, old=head)
            head, created = base_sha, True
        current = self._file_at(path=path, ref=head)
        if current is not None and current[0] == content:
            return FileCommit(branch=branch, sha=head, changed=False, created_branch=created)
        sha = self._commit_file(
            branch=branch,
            head=head,
            path=path,
            content=content,
            message=message,
            blob=current[1] if current else None,
        )
        return FileCommit(branch=branch, sha=sha, changed=True, created_branch=created)
