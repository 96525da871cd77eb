"""The manifest history from git: one ``git log`` of the base branch per page.

Each first-parent commit of the base branch that touched the manifests folder, with the files
it changed: a merge of a pull request (``Merge pull request #N from <branch>``) names its
number and branch; the branch (``slipway/promote-<env>/<model>``, ``slipway/revert-...``,
``slipway/rollback-...``) names the deployment.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.console.errors import ConsoleError

_MERGE = re.compile(r"^Merge pull request #(?P<number>\d+) from (?P<branch>\S+)")
_BRANCH = re.compile(r"^slipway/(?P<kind>promote|revert|rollback)-(?P<key>[^/]+/[^/]+)$")
_RECORD, _FIELD = "\x1e", "\x1f"
#: Commits read at most (older ones are not shown).
MAX_COMMITS = 2000


@dataclass(frozen=True)
class ManifestCommit:
    """One commit of the base branch that changed manifests.

    Attributes:
        sha: The commit.
        author: Its author's name (on a merge: who merged, as git records it).
        at: Author date.
        subject: First line of the message.
        deployments: Deployment keys whose manifest it changed.
        pr_number: The pull request it merged, if it is a merge of one.
        kind: ``promote``, ``revert`` or ``rollback`` for a Slipway branch.
    """

    sha: str
    author: str
    at: datetime
    subject: str
    deployments: tuple[str, ...]
    pr_number: int | None = None
    kind: str | None = None


def manifest_log(
    *, repo_dir: Path, ref: str, manifests_dir: str, timeout: float = 20.0
) -> list[ManifestCommit]:
    """The base branch's commits that touched ``manifests_dir``, newest first.

    A folder that is not a git repository, or a missing ref, has no history (an empty list).

    Raises:
        ConsoleError: git is missing or ran over ``timeout`` seconds.
    """
    folder = manifests_dir.strip("/")
    command = [
        "git", "-C", str(repo_dir), "log", "--first-parent", "--diff-merges=first-parent",
        "--name-only", f"--max-count={MAX_COMMITS}",
        f"--format={_RECORD}%H{_FIELD}%an{_FIELD}%aI{_FIELD}%s{_FIELD}",
        ref, "--", folder,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ConsoleError("git is not installed; the history cannot be read") from exc
    except subprocess.TimeoutExpired as exc:
        raise ConsoleError(f"git log ran over {timeout:.0f} s") from exc
    if done.returncode != 0:
        return []
    return [c for c in (_parse(chunk, folder) for chunk in done.stdout.split(_RECORD)) if c]


def _parse(chunk: str, folder: str) -> ManifestCommit | None:
    head, _, files = chunk.partition("\n")
    parts = head.split(_FIELD)
    if len(parts) < 4:
        return None
    sha, author, when, subject = parts[:4]
    keys = []
    for line in files.splitlines():
        path = line.strip()
        if path.startswith(folder + "/") and path.endswith(".yaml"):
            rest = path[len(folder) + 1 : -len(".yaml")]
            if rest.count("/") == 1:
                keys.append(rest)
    merge = _MERGE.match(subject)
    number = int(merge.group("number")) if merge else None
    kind = None
    if merge:
        branch = _BRANCH.match(merge.group("branch"))
        if branch is not None:
            kind = branch.group("kind")
            if branch.group("key") not in keys:
                keys.append(branch.group("key"))
    try:
        at = datetime.fromisoformat(when)
    except ValueError:
        return None
    return ManifestCommit(
        sha=sha,
        author=author,
        at=at,
        subject=subject,
        deployments=tuple(dict.fromkeys(keys)),
        pr_number=number,
        kind=kind,
    )


def branch_deployment(branch: str) -> tuple[str, str] | None:
    """``(kind, key)`` of a Slipway branch (``slipway/promote-prod/driver_ranking``), or None."""
    match = _BRANCH.match(branch)
    return (match.group("kind"), match.group("key")) if match else None
