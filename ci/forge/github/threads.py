"""The GitHub forge's comments and issues (the issues API; pull requests are issues there)."""

from __future__ import annotations

from ci.errors import ForgeNotFoundError
from ci.forge.github.client import GitHubClient
from ci.forge.github.convert import opt, to_comment, to_issue
from ci.forge.records import Comment, Issue, IssueEdit, IssueState


class GitHubThreads(GitHubClient):
    """Comments of issues and pull requests, and issues (pull requests filtered out)."""

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

    def find_issue(self, *, marker: str, label: str) -> Issue | None:
        """The open issue labelled ``label`` whose body holds ``marker``."""

        def find() -> Issue | None:
            for issue in self._r().get_issues(state="open", labels=[label]):
                if issue.pull_request is None and marker in (issue.body or ""):
                    return to_issue(issue)
            return None

        return self._call(f"find the issue labelled {label}", find)

    def list_issues(self, *, state: IssueState | None = None) -> list[Issue]:
        """Issues by number, optionally only ``open`` or ``closed`` ones."""

        def read() -> list[Issue]:
            found = self._r().get_issues(state=state or "all", sort="created", direction="asc")
            return [to_issue(issue) for issue in found if issue.pull_request is None]

        return self._call(f"list {state or 'all'} issues", read)

    def create_issue(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        """Open an issue (after a lost answer, the issue it made is found by its body)."""

        def opened() -> Issue | None:
            for issue in self._r().get_issues(state="open", labels=list(labels[:1])):
                if issue.pull_request is None and (issue.body or "") == body:
                    return to_issue(issue)
            return None

        return self._call(
            f"open issue {title!r}",
            lambda: to_issue(self._r().create_issue(title=title, body=body, labels=list(labels))),
            idempotent=False,
            recheck=opened,
        )

    def update_issue(self, *, number: int, edit: IssueEdit) -> Issue:
        """Edit an issue."""

        def change() -> Issue:
            issue = self._r().get_issue(number)
            issue.edit(title=opt(edit.title), body=opt(edit.body), state=opt(edit.state))
            return to_issue(issue)

        return self._call(f"edit issue #{number}", change)
