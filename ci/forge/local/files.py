"""The local forge's files and branches: git plumbing that never touches the work tree."""

from __future__ import annotations

from ci.forge.branch_writer import BranchWriter
from ci.forge.local.base import LocalBase


class LocalFiles(LocalBase, BranchWriter):
    """Reads files at a ref and commits one file to a branch with ``commit-tree``."""

    def read_file(self, *, path: str, ref: str) -> str | None:
        """Text of ``path`` at ``ref``, or None."""
        return self.git.show(ref=ref, path=path)

    def _file_at(self, *, path: str, ref: str) -> tuple[str, str] | None:
        text = self.git.show(ref=ref, path=path)
        return None if text is None else (text, "")

    def _move_branch(self, *, branch: str, sha: str, old: str | None) -> None:
        self.git.update_ref(branch=branch, new=sha, old=old)

    def _commit_file(
        self, *, branch: str, head: str, path: str, content: str, message: str, blob: str | None
    ) -> str:
        sha = self.git.commit_file(parent=head, path=path, content=content, message=message)
        self.git.update_ref(branch=branch, new=sha, old=head)
        return sha
