"""Plain git for the local forge: read files at a ref, commit one file, move refs, merge.

Commits are made with plumbing (a temporary index, ``commit-tree``, ``update-ref`` with the
expected old value), so proposing a change never touches the work tree, the index or HEAD.
Merging is a real ``git merge --no-ff`` of the approved commit, run in the work tree that has
the base branch checked out (it must be clean) or in a temporary worktree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ci.errors import GitError, MergeBlockedError

ZERO_SHA = "0" * 40
_BOT = {"name": "Slipway", "email": "slipway@localhost"}


class Git:
    """Runs git in one repository.

    ``work_tree`` is a folder inside the repository's work tree; ``timeout`` bounds every git
    command, in seconds.
    """

    def __init__(self, work_tree: Path, *, timeout: float = 60.0) -> None:
        self.work_tree = Path(work_tree)
        self.timeout = timeout

    def run(
        self,
        *args: str,
        input_text: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> str:
        """Run ``git *args`` (in ``cwd``, default the work tree) and return its stdout.

        The trailing newline is stripped; ``env`` adds variables.

        Raises:
            GitError: git is missing, timed out, or exited non-zero (first stderr line).
        """
        done = self._run(args, input_text=input_text, env=env, cwd=cwd)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            first = lines[0] if lines else f"exit code {done.returncode}"
            raise GitError(f"git {args[0]} failed: {first}")
        return done.stdout.rstrip("\n")

    def git_dir(self) -> Path:
        """The repository's common git directory (shared by all worktrees)."""
        path = Path(self.run("rev-parse", "--git-common-dir"))
        return path if path.is_absolute() else (self.work_tree / path).resolve()

    def rev_parse(self, ref: str) -> str | None:
        """Commit SHA of ``ref``, or None when it does not exist."""
        done = self._run(("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"))
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None

    def show(self, *, ref: str, path: str) -> str | None:
        """Text of ``path`` at ``ref``, or None when the ref or the file does not exist."""
        done = self._run(("cat-file", "blob", f"{ref}:{path}"))
        return done.stdout if done.returncode == 0 else None

    def commit_file(self, *, parent: str, path: str, content: str, message: str) -> str:
        """Make a commit on top of ``parent`` that sets one file; returns its SHA.

        ``path`` is relative to the repository root (``/`` separated). Refs are not moved.
        """
        blob = self.run("hash-object", "-w", "--stdin", input_text=content)
        listed = self.run("ls-tree", parent, "--", path)
        mode = listed.split()[0] if listed else "100644"
        tree = self.write_tree(base=parent, edits={path: (mode, blob)})
        return self.commit_tree(tree=tree, parent=parent, message=message)

    def write_tree(self, *, base: str, edits: Mapping[str, tuple[str, str] | None]) -> str:
        """Write ``base``'s tree with ``edits`` (path -> (mode, blob), None deletes); its id.

        A temporary index is used: the work tree, the index and HEAD are left alone.
        """
        fd, index = tempfile.mkstemp(prefix="slipway-index-")
        os.close(fd)
        os.unlink(index)  # git wants to create the index itself
        try:
            env = {"GIT_INDEX_FILE": index}
            self.run("read-tree", base, env=env)
            for path, entry in sorted(edits.items()):
                if entry is None:
                    self.run("update-index", "--force-remove", "--", path, env=env)
                else:
                    info = f"{entry[0]},{entry[1]},{path}"
                    self.run("update-index", "--add", "--cacheinfo", info, env=env)
            return self.run("write-tree", env=env)
        finally:
            Path(index).unlink(missing_ok=True)

    def commit_tree(self, *, tree: str, parent: str, message: str) -> str:
        """Commit ``tree`` with one parent; returns the commit (no ref moves)."""
        return self.run(
            "commit-tree", tree, "-p", parent, "-F", "-", input_text=message, env=self._identity()
        )

    def parents(self, commit: str) -> list[str]:
        """Parents of ``commit``, first parent first.

        Raises:
            GitError: No such commit.
        """
        return self.run("log", "-1", "--format=%P", f"{commit}^{{commit}}", "--").split()

    def entries(self, ref: str) -> dict[str, tuple[str, str]]:
        """Every file of ``ref``'s tree: path -> (mode, blob id).

        Raises:
            GitError: No such ref.
        """
        listing = self.run("ls-tree", "-r", "-z", "--full-tree", f"{ref}^{{tree}}")
        found: dict[str, tuple[str, str]] = {}
        for item in filter(None, listing.split("\0")):
            meta, path = item.split("\t", 1)
            mode, kind, blob = meta.split()
            if kind == "blob":
                found[path] = (mode, blob)
        return found

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is ``descendant`` or one of its ancestors.

        Raises:
            GitError: A commit does not exist.
        """
        done = self._run(("merge-base", "--is-ancestor", ancestor, descendant))
        if done.returncode not in (0, 1):
            lines = done.stderr.strip().splitlines()
            raise GitError(f"git merge-base failed: {lines[0] if lines else done.returncode}")
        return done.returncode == 0

    def update_ref(self, *, branch: str, new: str, old: str | None) -> None:
        """Point ``branch`` at ``new`` if it still points at ``old`` (None: must not exist).

        Raises:
            GitError: The branch moved meanwhile, or it is checked out in a worktree.
        """
        busy = self.worktrees_with(branch)
        if busy:
            raise GitError(
                f"branch {branch} is checked out in {busy[0]}; switch that worktree to "
                "another branch first"
            )
        self.run("update-ref", f"refs/heads/{branch}", new, old or ZERO_SHA)

    def worktrees_with(self, branch: str) -> list[Path]:
        """Worktrees that have ``branch`` checked out."""
        listing = self.run("worktree", "list", "--porcelain")
        found: list[Path] = []
        current: Path | None = None
        for line in listing.splitlines():
            if line.startswith("worktree "):
                current = Path(line.removeprefix("worktree "))
            elif line == f"branch refs/heads/{branch}" and current is not None:
                found.append(current)
        return found

    def merge_no_ff(self, *, base: str, commit: str, message: str) -> str:
        """``git merge --no-ff`` of ``commit`` into ``base``; returns the merge commit's SHA.

        ``commit`` is the exact commit merged (the approved head, not whatever the branch
        points at now).

        Raises:
            MergeBlockedError: The checkout of ``base`` has uncommitted changes, or the merge
                conflicts (it is aborted; nothing changes).
        """
        trees = self.worktrees_with(base)
        if trees:
            return self._merge_in(trees[0], base=base, commit=commit, message=message)
        scratch = Path(tempfile.mkdtemp(prefix="slipway-merge-"))
        shutil.rmtree(scratch)
        self.run("worktree", "add", "--quiet", str(scratch), base)
        try:
            return self._merge_in(scratch, base=base, commit=commit, message=message)
        finally:
            self._run(("worktree", "remove", "--force", str(scratch)))
            shutil.rmtree(scratch, ignore_errors=True)
            self._run(("worktree", "prune"))

    def _merge_in(self, tree: Path, *, base: str, commit: str, message: str) -> str:
        dirty = self.run("status", "--porcelain", "--untracked-files=no", cwd=tree)
        if dirty:
            raise MergeBlockedError(
                f"{tree} (branch {base}) has uncommitted changes; commit or stash them first"
            )
        done = self._run(
            ("merge", "--no-ff", "--no-edit", "-m", message, commit),
            cwd=tree,
            env=self._identity(),
        )
        if done.returncode != 0:
            self._run(("merge", "--abort"), cwd=tree)
            lines = (done.stdout + done.stderr).strip().splitlines()
            raise MergeBlockedError(
                f"merging {commit[:12]} into {base} conflicts"
                + (f": {lines[-1]}" if lines else "")
                + "; nothing was changed"
            )
        sha = self.rev_parse(f"refs/heads/{base}")
        if sha is None:  # pragma: no cover - the branch was just merged into
            raise GitError(f"branch {base} vanished during the merge")
        return sha

    def _identity(self) -> dict[str, str]:
        if self._run(("config", "user.email")).stdout.strip():
            return {}
        return {
            "GIT_AUTHOR_NAME": _BOT["name"],
            "GIT_AUTHOR_EMAIL": _BOT["email"],
            "GIT_COMMITTER_NAME": _BOT["name"],
            "GIT_COMMITTER_EMAIL": _BOT["email"],
        }

    def _run(
        self,
        args: tuple[str, ...],
        *,
        input_text: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        try:
            return subprocess.run(
                ["git", *args],
                cwd=cwd or self.work_tree,
                input=input_text,
                capture_output=True,
                encoding="utf-8",
                env=full_env,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed (the local forge needs it)") from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {args[0]} took more than {self.timeout:g} s") from exc
