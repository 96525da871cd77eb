"""The local forge's comments and issues (JSON records; numbers shared with pull requests)."""

from __future__ import annotations

from ci.errors import ForgeNotFoundError
from ci.forge.local.base import BOT, LocalBase
from ci.forge.local.store import CommentRecord, IssueRecord, PrRecord, ThreadRecord
from ci.forge.records import Comment, Issue, IssueEdit, IssueState


class LocalThreads(LocalBase):
    """Comments of pull requests and issues, and the issues themselves."""

    def list_comments(self, *, number: int) -> list[Comment]:
        """Comments of a pull request or issue, oldest first."""
        return [_comment(number, c) for c in self._thread(number).comments]

    def create_comment(self, *, number: int, body: str) -> Comment:
        """Add a comment."""
        with self.store.locked():
            thread = self._thread(number)
            now = self.clock()
            comment = CommentRecord(
                id=self.store.next_id("comment"),
                body=body,
                author=BOT,
                created_at=now,
                updated_at=now,
            )
            self._save_thread(thread.model_copy(update={"comments": [*thread.comments, comment]}))
        return _comment(number, comment)

    def edit_comment(self, *, number: int, comment_id: int, body: str) -> Comment:
        """Replace a comment's body."""
        with self.store.locked():
            thread = self._thread(number)
            comments = list(thread.comments)
            for index, comment in enumerate(comments):
                if comment.id == comment_id:
                    comments[index] = comment.model_copy(
                        update={"body": body, "updated_at": self.clock()}
                    )
                    self._save_thread(thread.model_copy(update={"comments": comments}))
                    return _comment(number, comments[index])
        raise ForgeNotFoundError(f"comment {comment_id} is not on #{number}")

    def delete_comment(self, *, number: int, comment_id: int) -> None:
        """Delete a comment (already gone counts as done)."""
        with self.store.locked():
            thread = self._thread(number)
            kept = [c for c in thread.comments if c.id != comment_id]
            if len(kept) != len(thread.comments):
                self._save_thread(thread.model_copy(update={"comments": kept}))

    def find_issue(self, *, marker: str, label: str) -> Issue | None:
        """The open issue labelled ``label`` whose body holds ``marker``."""
        for record in self.store.issues():
            if record.state == "open" and label in record.labels and marker in record.body:
                return _issue(record)
        return None

    def list_issues(self, *, state: IssueState | None = None) -> list[Issue]:
        """Issues by number, optionally only ``open`` or ``closed`` ones."""
        return [_issue(r) for r in self.store.issues() if state in (None, r.state)]

    def create_issue(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        """Open an issue."""
        with self.store.locked():
            now = self.clock()
            record = IssueRecord(
                number=self.store.next_id("number"),
                title=title,
                body=body,
                labels=list(labels),
                created_at=now,
                updated_at=now,
            )
            self.store.save_issue(record)
        return _issue(record)

    def update_issue(self, *, number: int, edit: IssueEdit) -> Issue:
        """Edit an issue."""
        with self.store.locked():
            record = self.store.issue(number)
            if record is None:
                raise ForgeNotFoundError(f"issue #{number} does not exist")
            fields = (("title", edit.title), ("body", edit.body), ("state", edit.state))
            changes = {key: value for key, value in fields if value is not None}
            record = record.model_copy(update={**changes, "updated_at": self.clock()})
            self.store.save_issue(record)
        return _issue(record)

    def _thread(self, number: int) -> ThreadRecord:
        record: ThreadRecord | None = self.store.pr(number) or self.store.issue(number)
        if record is None:
            raise ForgeNotFoundError(f"#{number} is neither a pull request nor an issue")
        return record

    def _save_thread(self, record: ThreadRecord) -> None:
        if isinstance(record, PrRecord):
            self.store.save_pr(record)
        elif isinstance(record, IssueRecord):
            self.store.save_issue(record)


def _comment(number: int, record: CommentRecord) -> Comment:
    return Comment(
        id=record.id,
        body=record.body,
        url=f"local:pr/{number}#comment-{record.id}",
        author=record.author,
    )


def _issue(record: IssueRecord) -> Issue:
    return Issue(
        number=record.number,
        title=record.title,
        body=record.body,
        state=record.state,
        url=f"local:issue/{record.number}",
        labels=tuple(record.labels),
    )
