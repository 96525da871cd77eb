"""The GitHub forge's pull requests, reviews and merges (the pulls API)."""

from __future__ import annotations

from ci.errors import ForgeError, MergeBlockedError
from ci.forge.github.client import GitHubClient
from ci.forge.github.convert import opt, to_pr, to_review
from ci.forge.records import PrEdit, PrState, PullRequest, Review

#: GitHub's answers to a merge it refuses: not mergeable (405), head moved (409).
_REFUSED = (405, 409)


class GitHubPulls(GitHubClient):
    """Pull requests of one GitHub repository; branch protection decides what may merge."""

    def find_open_pr(self, *, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request from ``head`` (in this repository), if any."""
        owner = self.repository.split("/")[0]

        def find() -> PullRequest | None:
            pulls = self._r().get_pulls(state="open", head=f"{owner}:{head}", base=opt(base))
            found = [to_pr(pull) for pull in pulls if pull.head.ref == head]
            return min(found, key=lambda pr: pr.number) if found else None

        return self._call(f"find the pull request from {head}", find)

    def list_prs(self, *, state: PrState | None = None) -> list[PullRequest]:
        """Pull requests by number (``merged`` and ``closed`` are told apart by ``merged_at``)."""
        wanted = "all" if state is None else "open" if state == "open" else "closed"

        def read() -> list[PullRequest]:
            pulls = self._r().get_pulls(state=wanted, sort="created", direction="asc")
            found = [to_pr(pull) for pull in pulls]
            return [pr for pr in found if state in (None, pr.state)]

        return self._call(f"list {state or 'all'} pull requests", read)

    def get_pr(self, *, number: int) -> PullRequest:
        """One pull request."""
        return self._call(f"read pull request #{number}", lambda: to_pr(self._r().get_pull(number)))

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

    def update_pr(self, *, number: int, edit: PrEdit) -> PullRequest:
        """Edit a pull request's title, body and labels."""
        if edit.title is not None or edit.body is not None:
            self._call(
                f"edit pull request #{number}",
                lambda: self._r().get_pull(number).edit(title=opt(edit.title), body=opt(edit.body)),
            )
        if edit.labels is not None:
            self._set_labels(number, edit.labels)
        return self.get_pr(number=number)

    def list_reviews(self, *, number: int) -> list[Review]:
        """Reviews of a pull request, oldest first."""
        return self._call(
            f"list reviews of #{number}",
            lambda: [to_review(r) for r in self._r().get_pull(number).get_reviews()],
        )

    def approve_pr(self, *, number: int, reviewer: str | None = None) -> Review:
        """Approve the head as the token's user (an approval already there is returned)."""
        login = self._user()
        if reviewer is not None and reviewer != login:
            raise ForgeError(
                f"approve #{number}: on GitHub the review is by the token's user {login}, not "
                f"{reviewer}; use {reviewer}'s token or leave the reviewer out"
            )
        pr = self.get_pr(number=number)
        if pr.state != "open":
            raise ForgeError(f"pull request #{number} is {pr.state}; nothing to approve")

        def approved() -> Review | None:
            for review in self.list_reviews(number=number):
                if (review.reviewer, review.sha, review.state) == (login, pr.head_sha, "approved"):
                    return review
            return None

        found = approved()
        if found is not None:
            return found

        def post() -> Review:
            commit = self._r().get_commit(pr.head_sha)  # lazy: no request
            made = self._r().get_pull(number).create_review(commit=commit, event="APPROVE")
            return to_review(made)

        return self._call(f"approve #{number}", post, idempotent=False, recheck=approved)

    def merge_pr(self, *, number: int, message: str) -> str:
        """Merge the current head with a merge commit (GitHub applies branch protection).

        The head read first is the one merged (``sha``): a push in between is refused, not
        merged unplanned. A refusal names the statuses of that head that are not successful,
        with their descriptions (GitHub's own message names only the context).
        """
        pr = self.get_pr(number=number)

        def merge() -> str:
            status = (
                self._r()
                .get_pull(number)
                .merge(commit_message=message, merge_method="merge", sha=pr.head_sha)
            )
            if not status.merged:
                raise MergeBlockedError(f"GitHub did not merge #{number}: {status.message}")
            return str(status.sha)

        def merged() -> str | None:
            now = self.get_pr(number=number)
            return now.merge_sha if now.state == "merged" else None

        try:
            return self._call(f"merge #{number}", merge, idempotent=False, recheck=merged)
        except ForgeError as exc:
            if exc.status in _REFUSED or isinstance(exc, MergeBlockedError):
                raise MergeBlockedError(
                    str(exc) + self._unmet(pr.head_sha), status=exc.status
                ) from exc
            raise

    def _unmet(self, sha: str) -> str:
        """`` (slipway/policy is failure: Blocked by ...)`` for the head's unsuccessful statuses."""
        statuses = self._call(
            f"read statuses of {sha[:12]}",
            lambda: [
                (s.context, s.state, s.description or "")
                for s in self._r().get_commit(sha).get_statuses()
            ],
        )
        latest: dict[str, tuple[str, str]] = {}
        for context, state, description in statuses:  # newest first
            latest.setdefault(context, (state, description))
        unmet = [
            f"{context} is {state}: {description}"
            for context, (state, description) in sorted(latest.items())
            if state != "success"
        ]
        return f" ({'; '.join(unmet)})" if unmet else ""

    def _set_labels(self, number: int, labels: tuple[str, ...]) -> None:
        self._call(f"label #{number}", lambda: self._r().get_issue(number).set_labels(*labels))


def _number(pr: PullRequest | None) -> int | None:
    return pr.number if pr else None
