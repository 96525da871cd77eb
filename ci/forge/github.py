"""The GitHub forge: the REST API through PyGithub (github.com or GitHub Enterprise Server).

Built on :class:`~ci.forge.github_client.GitHubClient` (lazy client, bounded retries, error
mapping) and :class:`~ci.forge.github_records.GitHubRecords` (statuses, deployments, issues).
A failure never makes this class close, reopen or recreate a pull request; creating calls that
may have gone through despite a 5xx are checked before they are repeated, so a lost answer
never posts a second comment, pull request or deployment.
"""

from __future__ import annotations

from ci.errors import ForgeError, ForgeNotFoundError
from ci.forge.github_client import to_comment, to_pr
from ci.forge.github_records import GitHubRecords, opt
from ci.forge.protocol import Comment, FileCommit, PullRequest


class GitHubForge(GitHubRecords):
    """A GitHub repository as a :class:`~ci.forge.protocol.Forge`.

    Args:
        settings: ci settings (token, ``owner/name``, API URL, retry bounds).
        sleep: Waits between retries (injected in tests).
        policy: Retry bounds (default: from the settings).
    """

    name = "github"

    # -- files and branches -------------------------------------------------------------

    def read_file(self, *, path: str, ref: str) -> str | None:
        """Text of ``path`` at ``ref`` (contents API), or None when missing."""
        try:
            return self._call(f"read {path}@{ref}", lambda: self._file(path, ref)[0])
        except ForgeNotFoundError:
            return None

    def branch_sha(self, *, branch: str) -> str | None:
        """Head commit of ``branch``, or None when the branch does not exist."""
        try:
            return self._call(
                f"read branch {branch}",
                lambda: str(self._r().get_git_ref(f"heads/{branch}").object.sha),
            )
        except ForgeNotFoundError:
            return None

    def push_file(
        self, *, branch: str, base: str, path: str, content: str, message: str, reset: bool
    ) -> FileCommit:
        """Commit one file to ``branch`` through the git refs and contents APIs."""
        base_sha = self.branch_sha(branch=base)
        if base_sha is None:
            raise ForgeNotFoundError(f"base branch {base} does not exist in {self.repository}")
        head = self.branch_sha(branch=branch)
        created = False
        if head is None:
            self._call(
                f"create branch {branch}",
                lambda: self._r().create_git_ref(f"refs/heads/{branch}", base_sha),
                idempotent=False,
                recheck=lambda: self.branch_sha(branch=branch),
            )
            head, created = base_sha, True
        elif reset and head != base_sha:
            self._call(f"reset branch {branch} onto {base}", lambda: self._reset(branch, base_sha))
            head, created = base_sha, True
        try:
            current, blob_sha = self._call(
                f"read {path}@{branch}", lambda: self._file(path, branch)
            )
        except ForgeNotFoundError:
            current, blob_sha = None, None
        if current == content:
            return FileCommit(branch=branch, sha=head, changed=False, created_branch=created)

        def write() -> str:
            repo = self._r()
            if blob_sha is None:
                result = repo.create_file(path, message, content, branch=branch)
            else:
                result = repo.update_file(path, message, content, blob_sha, branch=branch)
            return str(result["commit"].sha)

        def landed() -> str | None:
            if self.read_file(path=path, ref=branch) == content:
                return self.branch_sha(branch=branch)
            return None

        sha = self._call(f"commit {path} to {branch}", write, idempotent=False, recheck=landed)
        return FileCommit(branch=branch, sha=sha, changed=True, created_branch=created)

    def _reset(self, branch: str, sha: str) -> None:
        ref = self._r().get_git_ref(f"heads/{branch}")
        if ref.object.sha != sha:  # reading it completes the lazy ref: its url is /git/refs/...
            ref.edit(sha, force=True)

    # -- pull requests ------------------------------------------------------------------

    def find_open_pr(self, *, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request from ``head`` (in this repository), if any."""
        owner = self.repository.split("/")[0]

        def find() -> PullRequest | None:
            pulls = self._r().get_pulls(state="open", head=f"{owner}:{head}", base=opt(base))
            found = [to_pr(pull) for pull in pulls if pull.head.ref == head]
            return min(found, key=lambda pr: pr.number) if found else None

        return self._call(f"find the pull request from {head}", find)

    def create_pr(
        self, *, head: str, base: str, title: str, body: str, labels: tuple[str, ...]
    ) -> PullRequest:
        """Open a pull request; adopts the open one from ``head`` if GitHub says it exists."""
        try:
            number = self._call(
                f"open a pull request from {head}",
                lambda: self._r().create_pull(base=base, head=head, title=title, body=body).number,
                idempotent=False,
                recheck=lambda: _number(self.find_open_pr(head=head, base=base)),
            )
        except ForgeError as exc:
            existing = self.find_open_pr(head=head, base=base) if exc.status == 422 else None
            if existing is None:
                raise
            number = existing.number
        if labels:
            self._set_labels(number, labels)
        return self.get_pr(number=number)

    def update_pr(
        self,
        *,
        number: int,
        title: str | None = None,
        body: str | None = None,
        labels: tuple[str, ...] | None = None,
    ) -> PullRequest:
        """Edit a pull request's title, body and labels."""
        if title is not None or body is not None:
            self._call(
                f"edit pull request #{number}",
                lambda: self._r().get_pull(number).edit(title=opt(title), body=opt(body)),
            )
        if labels is not None:
            self._set_labels(number, labels)
        return self.get_pr(number=number)

    def get_pr(self, *, number: int) -> PullRequest:
        """One pull request."""
        return self._call(f"read pull request #{number}", lambda: to_pr(self._r().get_pull(number)))

    def merge_pr(self, *, number: int, message: str) -> str:
        """Merge with a merge commit (GitHub applies branch protection)."""

        def merge() -> str:
            status = self._r().get_pull(number).merge(commit_message=message, merge_method="merge")
            if not status.merged:
                raise ForgeError(f"GitHub did not merge pull request #{number}: {status.message}")
            return str(status.sha)

        def merged() -> str | None:
            pr = self.get_pr(number=number)
            return pr.merge_sha if pr.state == "merged" else None

        return self._call(f"merge pull request #{number}", merge, idempotent=False, recheck=merged)

    def approve_pr(self, *, number: int, reviewer: str) -> PullRequest:
        """Not offered: on GitHub a person approves in the review UI (branch protection)."""
        raise ForgeError(
            f"approve #{number}: on GitHub a reviewer approves in the pull request; "
            "the automation never approves its own changes"
        )

    # -- comments -----------------------------------------------------------------------

    def list_comments(self, *, number: int) -> list[Comment]:
        """Comments of an issue or pull request, oldest first."""
        return self._call(
            f"list comments of #{number}",
            lambda: [to_comment(c) for c in self._r().get_issue(number).get_comments()],
        )

    def create_comment(self, *, number: int, body: str) -> Comment:
        """Add a comment (a lost answer is found again by its body instead of posting twice)."""

        def posted() -> Comment | None:
            same = [c for c in self.list_comments(number=number) if c.body == body]
            return same[-1] if same else None

        return self._call(
            f"comment on #{number}",
            lambda: to_comment(self._r().get_issue(number).create_comment(body)),
            idempotent=False,
            recheck=posted,
        )

    def edit_comment(self, *, number: int, comment_id: int, body: str) -> Comment:
        """Replace a comment's body."""

        def edit() -> Comment:
            comment = self._r().get_issue(number).get_comment(comment_id)
            comment.edit(body)
            return to_comment(comment)

        return self._call(f"edit comment {comment_id} on #{number}", edit)

    def delete_comment(self, *, number: int, comment_id: int) -> None:
        """Delete a comment (already gone counts as done)."""
        try:
            self._call(
                f"delete comment {comment_id} on #{number}",
                lambda: self._r().get_issue(number).get_comment(comment_id).delete(),
            )
        except ForgeNotFoundError:
            return


def _number(pr: PullRequest | None) -> int | None:
    return pr.number if pr else None
