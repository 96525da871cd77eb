"""The local forge's files and branches: git plumbing that never touches the work tree."""

from __future__ import annotations

from collections.abc import Mapping

from ci.errors import ForgeNotFoundError
from ci.forge.branch_writer import BranchWriter
from ci.forge.local.base import LocalBase
from ci.forge.tree_editor import Entry, TreeEditor


class LocalFiles(LocalBase, BranchWriter, TreeEditor):
    """Reads files at a ref, commits one file to a branch, diffs and reverts with plumbing."""

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

    def _parents(self, commit: str) -> list[str]:
        self._known(commit)
        return self.git.parents(commit)

    def _entries(self, ref: str) -> dict[str, Entry]:
        self._known(ref)
        return self.git.entries(ref)

    def _write_tree(self, *, base: str, edits: Mapping[str, Entry | None]) -> str:
        return self.git.write_tree(base=base, edits=edits)

    def _tree_id(self, commit: str) -> str:
        return self.git.run("rev-parse", f"{commit}^{{tree}}")

    def _commit_tree(self, *, tree: str, parent: str, message: str) -> str:
        return self.git.commit_tree(tree=tree, parent=parent, message=message)

    def _known(self, ref: str) -> None:
        if self.git.rev_parse(ref) is None:
            raise ForgeNotFoundError(f"{ref} is not a branch or commit in {self.where}")
