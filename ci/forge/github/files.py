"""The GitHub forge's files and branches: the contents and git refs APIs."""

from __future__ import annotations

from ci.errors import ForgeError, ForgeNotFoundError
from ci.forge.branch_writer import BranchWriter
from ci.forge.github.client import GitHubClient


class GitHubFiles(GitHubClient, BranchWriter):
    """Reads files at a ref; commits one file per call through the contents API."""

    def read_file(self, *, path: str, ref: str) -> str | None:
        """Text of ``path`` at ``ref``, or None when the ref or the file is missing."""
        found = self._file_at(path=path, ref=ref)
        return found[0] if found else None

    def branch_sha(self, *, branch: str) -> str | None:
        """Head commit of ``branch``, or None when the branch does not exist."""
        try:
            return self._call(
                f"read branch {branch}",
                lambda: str(self._r().get_git_ref(f"heads/{branch}").object.sha),
            )
        except ForgeNotFoundError:
            return None

    def _file_at(self, *, path: str, ref: str) -> tuple[str, str] | None:
        def read() -> tuple[str, str]:
            found = self._r().get_contents(path, ref=ref)
            if isinstance(found, list):
                raise ForgeError(f"{path}@{ref} is a directory, not a file")
            return found.decoded_content.decode("utf-8"), str(found.sha)

        try:
            return self._call(f"read {path}@{ref}", read)
        except ForgeNotFoundError:
            return None

    def _move_branch(self, *, branch: str, sha: str, old: str | None) -> None:
        if old is None:
            self._call(
                f"create branch {branch}",
                lambda: self._r().create_git_ref(f"refs/heads/{branch}", sha),
                idempotent=False,
                recheck=lambda: self.branch_sha(branch=branch),
            )
            return

        def reset() -> None:
            ref = self._r().get_git_ref(f"heads/{branch}")
            if ref.object.sha != sha:  # reading it completes the lazy ref: its url is /git/refs/
                ref.edit(sha, force=True)

        self._call(f"reset branch {branch} onto {sha[:12]}", reset)

    def _commit_file(
        self, *, branch: str, head: str, path: str, content: str, message: str, blob: str | None
    ) -> str:
        def write() -> str:
            repo = self._r()
            if blob is None:
                result = repo.create_file(path, message, content, branch=branch)
            else:
                result = repo.update_file(path, message, content, blob, branch=branch)
            return str(result["commit"].sha)

        def landed() -> str | None:
            if self.read_file(path=path, ref=branch) == content:
                return self.branch_sha(branch=branch)
            return None

        return self._call(f"commit {path} to {branch}", write, idempotent=False, recheck=landed)
