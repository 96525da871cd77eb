"""The one algorithm behind ``changed_paths`` and ``revert_merge``, shared by both adapters.

Both work on whole trees (path -> mode and blob id): what differs between two refs, and the
commit that undoes a merge. A revert is the git revert of the merge against its first parent
(``git revert -m 1``), every file it changed, put on top of the base branch's head. It
applies only where the base still holds what the merge wrote; a file changed since then is
a conflict, reported by name, and nothing is written. Adapters supply the git primitives:
reading a commit's parents and tree entries, writing a tree over a base commit, committing
a tree, moving a branch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from ci.errors import ForgeError, ForgeNotFoundError, RevertConflictError
from ci.forge.records import FileCommit

Entry = tuple[str, str]
"""A tree entry: (mode, blob id)."""


@dataclass(frozen=True)
class FileChange:
    """One file a commit changed against its first parent (None: absent on that side)."""

    path: str
    before: Entry | None
    after: Entry | None


class TreeEditor(ABC):
    """``changed_paths`` and ``revert_merge`` on top of five primitives."""

    where: str

    @abstractmethod
    def branch_sha(self, *, branch: str) -> str | None:
        """Commit a branch points at, or None when the branch does not exist."""

    @abstractmethod
    def _parents(self, commit: str) -> list[str]:
        """Parent commits of ``commit`` (first parent first).

        Raises:
            ForgeNotFoundError: No such commit.
        """

    @abstractmethod
    def _entries(self, ref: str) -> dict[str, Entry]:
        """Every file of ``ref``'s tree (a branch or commit), by path.

        Raises:
            ForgeNotFoundError: No such ref.
        """

    @abstractmethod
    def _write_tree(self, *, base: str, edits: Mapping[str, Entry | None]) -> str:
        """Write ``base``'s tree with ``edits`` applied (None deletes a path); its tree id."""

    @abstractmethod
    def _tree_id(self, commit: str) -> str:
        """Tree id of a commit."""

    @abstractmethod
    def _commit_tree(self, *, tree: str, parent: str, message: str) -> str:
        """Commit ``tree`` on top of ``parent``; returns the commit (no ref moves)."""

    @abstractmethod
    def _move_branch(self, *, branch: str, sha: str, old: str | None) -> None:
        """Point ``branch`` at ``sha``; ``old`` is where it points now (None: create it)."""

    def changed_paths(self, *, base: str, head: str) -> list[str]:
        """Paths whose content or mode differs between ``base`` and ``head``, sorted.

        Raises:
            ForgeNotFoundError: A ref does not exist.
        """
        return sorted(c.path for c in _diff(self._entries(base), self._entries(head)))

    def commit_changes(self, *, sha: str) -> list[FileChange]:
        """What commit ``sha`` changed against its first parent (a root commit: every file)."""
        parents = self._parents(sha)
        before = self._entries(parents[0]) if parents else {}
        return _diff(before, self._entries(sha))

    def revert_merge(self, *, sha: str, branch: str, base: str, message: str) -> FileCommit:
        """Put the revert of ``sha`` (against its first parent) on ``branch``, atop ``base``.

        ``branch`` is created, or moved onto the new commit; when it already holds exactly
        this revert on top of ``base``'s head, nothing is written (``changed`` is False).

        Raises:
            ForgeNotFoundError: ``base`` or ``sha`` does not exist.
            RevertConflictError: ``base`` changed a file of ``sha`` since (the files are
                named), or already holds what ``sha`` replaced.
        """
        base_sha = self.branch_sha(branch=base)
        if base_sha is None:
            raise ForgeNotFoundError(f"base branch {base} does not exist in {self.where}")
        changes = self.commit_changes(sha=sha)
        if not changes:
            raise RevertConflictError(f"{sha[:12]} changed no file; there is nothing to revert")
        current = self._entries(base_sha)
        conflicts = [c.path for c in changes if current.get(c.path) != c.after]
        if all(current.get(c.path) == c.before for c in changes):
            raise RevertConflictError(
                f"{base} already holds what {sha[:12]} replaced; there is nothing to revert"
            )
        if conflicts:
            raise RevertConflictError(
                f"cannot revert {sha[:12]} on {base}: changed since by later commits: "
                + ", ".join(conflicts)
                + "; revert by hand"
            )
        tree = self._write_tree(base=base_sha, edits={c.path: c.before for c in changes})
        head = self.branch_sha(branch=branch)
        if head is not None and self._parents(head) == [base_sha] and self._tree_id(head) == tree:
            return FileCommit(branch=branch, sha=head, changed=False)
        commit = self._commit_tree(tree=tree, parent=base_sha, message=message)
        self._move_branch(branch=branch, sha=commit, old=head)
        return FileCommit(branch=branch, sha=commit, changed=True, created_branch=head is None)


def _diff(before: Mapping[str, Entry], after: Mapping[str, Entry]) -> list[FileChange]:
    paths = sorted(set(before) | set(after))
    return [
        FileChange(path, before.get(path), after.get(path))
        for path in paths
        if before.get(path) != after.get(path)
    ]


def check_tree_complete(truncated: bool, *, what: str) -> None:
    """Refuse a tree the forge cut short (too many files for one answer).

    Raises:
        ForgeError: It was cut short.
    """
    if truncated:
        raise ForgeError(f"{what}: the forge truncated the tree (too many files)")
