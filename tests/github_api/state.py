"""In-memory state of the fake GitHub: repositories with a tiny git model, and the call log."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_TOKEN = "test-token"
#: Login of the user behind ``GitHubState.token`` (the automation opens pull requests as it).
BOT_LOGIN = "slipway-bot"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Call:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class Fault:
    """Answer the next ``remaining`` matching calls with ``status`` instead of serving them."""

    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"


@dataclass
class Commit:
    sha: str
    tree: dict[str, str]  # path -> blob sha
    parents: list[str]
    message: str


@dataclass
class Protection:
    """Branch protection of one base branch, as GitHub applies it when merging.

    Attributes:
        required_approvals: Approving reviews needed (by someone other than the author).
        required_contexts: Commit status contexts that must be ``success`` on the head.
        dismiss_stale_reviews: Only approvals of the current head count.
        strict: The head must contain the base branch's head ("Require branches to be up to
            date before merging").
    """

    required_approvals: int = 1
    required_contexts: list[str] = field(default_factory=list)
    dismiss_stale_reviews: bool = True
    strict: bool = False


class ApiError(Exception):
    """Raised by state operations; the app turns it into ``{"message": ...}`` with a status."""

    def __init__(self, status: int, message: str, errors: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass
class RepoState:
    """One repository: git objects, refs, pulls/issues (shared numbers), comments, statuses."""

    full_name: str
    default_branch: str = "main"
    blobs: dict[str, bytes] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    protection: dict[str, Protection] = field(default_factory=dict)
    #: Tree objects: tree sha -> the files under it (path relative to that tree -> blob).
    trees: dict[str, dict[str, str]] = field(default_factory=dict)
    counter: int = 0
    ids: int = 1000

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    def next_id(self) -> int:
        self.ids += 1
        return self.ids

    # -- git model ------------------------------------------------------------------------

    def put_blob(self, content: bytes) -> str:
        sha = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        self.blobs[sha] = content
        return sha

    def make_commit(self, tree: dict[str, str], parents: list[str], message: str) -> str:
        seed = f"{sorted(tree.items())}{parents}{message}{len(self.commits)}".encode()
        sha = hashlib.sha1(seed).hexdigest()
        self.commits[sha] = Commit(sha, dict(tree), list(parents), message)
        return sha

    def tree_sha(self, files: dict[str, str]) -> str:
        """The id of the tree holding ``files`` (path -> blob); it and its subtrees are kept."""
        blobs = {path: sha for path, sha in files.items() if "/" not in path}
        folders: dict[str, dict[str, str]] = {}
        for path, sha in files.items():
            if "/" in path:
                head, rest = path.split("/", 1)
                folders.setdefault(head, {})[rest] = sha
        entries = sorted(
            [("blob", name, sha) for name, sha in blobs.items()]
            + [("tree", name, self.tree_sha(sub)) for name, sub in folders.items()],
            key=lambda e: e[1],
        )
        sha = hashlib.sha1(f"tree {entries}".encode()).hexdigest()
        self.trees[sha] = dict(files)
        return sha

    def tree_listing(self, sha: str, *, recursive: bool) -> list[tuple[str, str, str]]:
        """``(path, type, sha)`` of a tree's entries: top level, or every file and folder."""
        files = self.trees[sha]
        found: dict[str, tuple[str, str]] = {}
        for path, blob in files.items():
            parts = path.split("/")
            if not recursive and len(parts) > 1:
                prefix = parts[0]
                found[prefix] = ("tree", self.tree_sha(_under(files, prefix)))
                continue
            for depth in range(1, len(parts)):
                prefix = "/".join(parts[:depth])
                found[prefix] = ("tree", self.tree_sha(_under(files, prefix)))
            found[path] = ("blob", blob)
        return [(path, kind, ref) for path, (kind, ref) in sorted(found.items())]

    def resolve(self, ref: str | None) -> str:
        name = ref or self.default_branch
        name = name.removeprefix("refs/heads/").removeprefix("heads/")
        if name in self.refs:
            return self.refs[name]
        if name in self.commits:
            return name
        raise ApiError(404, "Not Found")

    def file_at(self, ref: str | None, path: str) -> tuple[bytes, str]:
        commit = self.commits[self.resolve(ref)]
        blob = commit.tree.get(path)
        if blob is None:
            raise ApiError(404, "Not Found")
        return self.blobs[blob], blob

    def commit_file(self, branch: str, path: str, content: bytes, message: str) -> str:
        parent = self.refs[branch]
        tree = dict(self.commits[parent].tree)
        tree[path] = self.put_blob(content)
        sha = self.make_commit(tree, [parent], message)
        self.refs[branch] = sha
        return sha

    def ancestors(self, sha: str) -> list[str]:
        order, seen, queue = [], set(), [sha]
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            order.append(current)
            queue.extend(self.commits[current].parents)
        return order

    def merge(self, base_branch: str, head_sha: str, message: str) -> str:
        base_sha = self.refs[base_branch]
        head_ancestors = set(self.ancestors(head_sha))
        merge_base = next((c for c in self.ancestors(base_sha) if c in head_ancestors), None)
        old = self.commits[merge_base].tree if merge_base else {}
        ours, theirs = self.commits[base_sha].tree, self.commits[head_sha].tree
        tree: dict[str, str] = {}
        for path in set(ours) | set(theirs) | set(old):
            o, t, b = ours.get(path), theirs.get(path), old.get(path)
            if t == b or o == t:
                chosen = o
            elif o == b:
                chosen = t
            else:
                raise ApiError(405, "Merge conflict")
            if chosen is not None:
                tree[path] = chosen
        sha = self.make_commit(tree, [base_sha, head_sha], message)
        self.refs[base_branch] = sha
        return sha


def _under(files: dict[str, str], prefix: str) -> dict[str, str]:
    return {
        path.removeprefix(prefix + "/"): sha
        for path, sha in files.items()
        if path.startswith(prefix + "/")
    }


class GitHubState:
    """Everything the fake GitHub knows, plus the call log and pending faults."""

    def __init__(self, *, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        #: Other users' tokens (a reviewer's), token -> login.
        self.users: dict[str, str] = {}
        self.repos: dict[str, RepoState] = {}
        #: Organization teams (``org/slug``) -> member logins.
        self.teams: dict[str, list[str]] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()

    def add_repo(
        self, full_name: str, *, files: dict[str, str], default_branch: str = "main"
    ) -> RepoState:
        repo = RepoState(full_name=full_name, default_branch=default_branch)
        tree = {path: repo.put_blob(text.encode()) for path, text in files.items()}
        repo.refs[default_branch] = repo.make_commit(tree, [], "initial commit")
        self.repos[full_name] = repo
        return repo

    def add_user(self, login: str, *, token: str) -> None:
        """Let ``token`` authenticate as ``login`` (a second person, e.g. a reviewer)."""
        with self.lock:
            self.users[token] = login

    def login_of(self, authorization: str) -> str | None:
        """The login an ``Authorization`` header authenticates, or None (HTTP 401)."""
        for prefix in ("token ", "Bearer "):
            if authorization.startswith(prefix):
                token = authorization.removeprefix(prefix)
                return BOT_LOGIN if token == self.token else self.users.get(token)
        return None

    def repo(self, full_name: str) -> RepoState:
        if full_name not in self.repos:
            raise ApiError(404, "Not Found")
        return self.repos[full_name]

    def fail_next(
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 502,
        times: int = 1,
        retry_after: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """Make the next ``times`` calls matching ``method`` and ``path_regex`` fail."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        fault = Fault(
            method=method.upper(),
            pattern=re.compile(path_regex),
            status=status,
            remaining=times,
            headers=headers,
            message=message or ("API rate limit exceeded" if status == 429 else "Server Error"),
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.method == method and fault.pattern.search(path):
                    fault.remaining -= 1
                    return fault
        return None

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def calls_to(self, method: str, path_regex: str) -> list[Call]:
        """Recorded calls matching a method and a path pattern (``re.search``)."""
        pattern = re.compile(path_regex)
        with self.lock:
            return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    def clear_calls(self) -> None:
        with self.lock:
            self.calls.clear()
