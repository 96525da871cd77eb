"""The GitHub forge's tree work: the git data API (commits, recursive trees, new trees).

A revert is written as one commit: the base head's tree with the reverted paths set back
(``POST git/trees`` on ``base_tree``, then ``POST git/commits``), then the branch is created
or moved onto it. Nothing goes through the contents API, so a revert of several files is
one commit, like ``git revert``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci.errors import ForgeNotFoundError
from ci.forge.github.client import GitHubClient
from ci.forge.tree_editor import Entry, TreeEditor, check_tree_complete


class GitHubTrees(GitHubClient, TreeEditor):
    """``changed_paths`` and ``revert_merge`` over the git data API."""

    def _git_commit(self, sha: str) -> Any:
        return self._call(f"read commit {sha[:12]}", lambda: self._r().get_git_commit(sha))

    def _parents(self, commit: str) -> list[str]:
        found = self._git_commit(self._commit_of(commit))
        return [str(parent.sha) for parent in found.parents]

    def _tree_id(self, commit: str) -> str:
        return str(self._git_commit(self._commit_of(commit)).tree.sha)

    def _entries(self, ref: str) -> dict[str, Entry]:
        tree_id = self._tree_id(ref)

        def read() -> dict[str, Entry]:
            tree = self._r().get_git_tree(tree_id, recursive=True)
            check_tree_complete(bool(tree.raw_data.get("truncated")), what=f"tree of {ref}")
            return {e.path: (e.mode, e.sha) for e in tree.tree if e.type == "blob"}

        return self._call(f"read the tree of {ref}", read)

    def _write_tree(self, *, base: str, edits: Mapping[str, Entry | None]) -> str:
        from github.InputGitTreeElement import InputGitTreeElement

        base_tree = self._tree_id(base)
        elements = [
            InputGitTreeElement(path, entry[0] if entry else "100644", "blob", sha=_sha(entry))
            for path, entry in sorted(edits.items())
        ]

        def write() -> str:
            repo = self._r()
            made = repo.create_git_tree(elements, base_tree=repo.get_git_tree(base_tree))
            return str(made.sha)

        return self._call(f"write a tree over {base[:12]}", write)

    def _commit_tree(self, *, tree: str, parent: str, message: str) -> str:
        def commit() -> str:
            repo = self._r()
            made = repo.create_git_commit(
                message, repo.get_git_tree(tree), [repo.get_git_commit(parent)]
            )
            return str(made.sha)

        return self._call(f"commit tree {tree[:12]}", commit)

    def _commit_of(self, ref: str) -> str:
        """The commit a branch name or commit SHA stands for."""
        if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref):
            return ref
        sha = self.branch_sha(branch=ref)
        if sha is None:
            raise ForgeNotFoundError(f"{ref} is not a branch or commit in {self.repository}")
        return sha


def _sha(entry: Entry | None) -> str | None:
    return entry[1] if entry else None
