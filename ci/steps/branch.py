"""Step 3 of a promotion: commit the edited manifest to the promotion branch.

With an open pull request the change is committed on top of the branch (reviewers keep their
history; nothing is force-pushed under them), or not at all when the branch already holds that
content. Without one, the branch is started afresh from the base branch, so a new pull request
never carries leftovers of an old, closed one.
"""

from __future__ import annotations

from ci.forge.protocol import Files
from ci.forge.records import FileCommit


def branch_name(kind: str, env: str) -> str:
    """The branch of a change: ``slipway/promote-<env>/<model>``, ``slipway/revert-...``.

    ``env`` is the deployment key ``<env>/<model>``: one branch per model and environment, so
    promoting one model never touches another's pull request.

    Args:
        kind: ``promote`` or ``revert``.
    """
    return f"slipway/{kind}-{env}"


def commit_manifest(
    forge: Files,
    *,
    branch: str,
    base: str,
    path: str,
    content: str,
    message: str,
    has_open_pr: bool,
) -> FileCommit:
    """Put ``content`` at ``path`` on ``branch``.

    Args:
        has_open_pr: Whether an open pull request uses the branch.

    Returns:
        The commit (``changed`` is False when the branch already had the content).
    """
    return forge.push_file(
        branch=branch,
        base=base,
        path=path,
        content=content,
        message=message,
        reset=not has_open_pr,
    )
