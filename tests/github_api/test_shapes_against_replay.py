"""The test server answers every endpoint Slipway calls in the shape real GitHub does.

``replay/*.json`` hold answers GitHub really gave, taken from PyGithub's own test recordings
(``tests/ReplayData`` in the PyGithub repository; each file names its source). Which keys
matter is asked of PyGithub itself: the recorded answer is handed to the PyGithub class that
parses it, and every key the class reads (nested objects included) is noted. For each
endpoint, the server's answer in a scenario that touches them all must have every such key,
with the same JSON type. A recorded ``null`` checks presence only; ``nullable`` names the
keys our answer may leave ``null`` (or an empty list) where the recording had a value.
"""

from __future__ import annotations

import base64
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import github
import httpx
import pytest

from .fixtures import github_api, github_server  # noqa: F401
from .server import RunningServer

pytestmark = pytest.mark.integration

REPLAY = Path(__file__).parent / "replay"
ALICE = "alice-token"
EMPTY = object()


def fixture(name: str) -> dict[str, Any]:
    return json.loads((REPLAY / f"{name}.json").read_text(encoding="utf-8"))


# -- what PyGithub reads -----------------------------------------------------------------


class _Reads(dict):  # type: ignore[type-arg]
    """A dict that notes every key read from it (and from what it hands out)."""

    def __init__(self, data: dict[str, Any], path: tuple[str, ...], seen: set[tuple[str, ...]]):
        super().__init__(data)
        self.path = path
        self.seen = seen

    def __getitem__(self, key: str) -> Any:
        self.seen.add((*self.path, key))
        return _wrap(super().__getitem__(key), (*self.path, key), self.seen)


def _wrap(value: Any, path: tuple[str, ...], seen: set[tuple[str, ...]]) -> Any:
    if isinstance(value, dict):
        return _Reads(value, path, seen)
    if isinstance(value, list):
        return [_wrap(item, (*path, "[]"), seen) for item in value]
    return value


def pygithub_reads(class_path: str, data: dict[str, Any]) -> set[tuple[str, ...]]:
    """Key paths the PyGithub class ``class_path`` reads when it parses ``data``."""
    module, name = class_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    seen: set[tuple[str, ...]] = set()
    requester = github.Github(base_url="http://127.0.0.1:9").requester
    cls(requester, {}, _wrap(data, (), seen))
    return seen


def all_paths(data: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path of a JSON document (for error bodies: PyGithub keeps them whole)."""
    found: set[tuple[str, ...]] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            found.add((*path, key))
            found |= all_paths(value, (*path, key))
    elif isinstance(data, list) and data:
        found |= all_paths(data[0], (*path, "[]"))
    return found


def expected_paths(spec: dict[str, Any]) -> set[tuple[str, ...]]:
    body = spec["body"]
    if spec.get("error"):
        return all_paths(body)
    if "classes" in spec:
        paths: set[tuple[str, ...]] = set()
        for key, class_path in spec["classes"].items():
            paths |= {(key,)} | {(key, *p) for p in pygithub_reads(class_path, body[key])}
        return paths
    item = body[0] if spec.get("list") else body
    return pygithub_reads(spec["class"], item)


# -- comparing -------------------------------------------------------------------------------


def _at(doc: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if step == "[]":
            if not isinstance(doc, list) or not doc:
                return EMPTY
            doc = doc[0]
        elif isinstance(doc, dict):
            if step not in doc:
                raise KeyError(step)
            doc = doc[step]
        else:
            return EMPTY
    return doc


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), repr(type(value)))


def differences(spec: dict[str, Any], ours: Any) -> list[str]:
    """Where ``ours`` lacks a key PyGithub reads in the recording, or has another type."""
    recorded = spec["body"][0] if spec.get("list") else spec["body"]
    if spec.get("list"):
        assert isinstance(ours, list), f"expected a list, got {_kind(ours)}"
        assert ours, "the scenario must produce at least one item"
        ours = ours[0]
    nullable = set(spec.get("nullable", []))
    problems = []
    for path in sorted(expected_paths(spec)):
        name = ".".join(p for p in path if p != "[]")
        want = _at(recorded, path)
        try:
            have = _at(ours, path)
        except KeyError:
            try:
                parent = _at(ours, path[:-1])
            except KeyError:
                continue  # the parent is reported missing already
            if isinstance(parent, dict):
                problems.append(f"{name}: missing")
            continue
        if want is None or want is EMPTY or want == [] or have is EMPTY:
            continue
        if have is None or have == []:
            if name not in nullable:
                problems.append(f"{name}: ours is {json.dumps(have)}, GitHub's a {_kind(want)}")
            continue
        if _kind(have) != _kind(want):
            problems.append(f"{name}: ours is a {_kind(have)}, GitHub's a {_kind(want)}")
    return problems


# -- one scenario touching every endpoint ----------------------------------------------------


@dataclass
class Answers:
    """The server's answer to each endpoint Slipway calls, by ``METHOD path-template``."""

    docs: dict[str, Any]
    statuses: dict[str, int]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def answers(github_api: RunningServer) -> Answers:  # noqa: F811
    state = github_api.state
    state.add_repo("acme/churn", files={"a.txt": "one\n"})
    state.add_user("alice", token=ALICE)
    docs: dict[str, Any] = {}
    codes: dict[str, int] = {}
    bot = httpx.Client(
        base_url=f"{github_api.url}/repos/acme/churn",
        headers={"Authorization": f"token {github_api.token}"},
        timeout=10,
    )
    alice = httpx.Client(
        base_url=github_api.url, headers={"Authorization": f"token {ALICE}"}, timeout=10
    )

    def call(client: httpx.Client, key: str, method: str, url: str, body: Any = None) -> Any:
        response = client.request(method, url, json=body)
        codes[key] = response.status_code
        docs[key] = response.json() if response.content else None
        return docs[key]

    with bot, alice:
        main = call(bot, "GET git/ref/heads/{branch}", "GET", "/git/ref/heads/main")
        sha = main["object"]["sha"]
        call(bot, "POST git/refs", "POST", "/git/refs", {"ref": "refs/heads/feature", "sha": sha})
        made = call(
            bot,
            "PUT contents/{path} (create)",
            "PUT",
            "/contents/b.txt",
            {"message": "add b", "content": _b64("b\n"), "branch": "feature"},
        )
        call(bot, "GET contents/{path}", "GET", "/contents/b.txt?ref=feature")
        changed = call(
            bot,
            "PUT contents/{path} (update)",
            "PUT",
            "/contents/b.txt",
            {
                "message": "edit b",
                "content": _b64("bb\n"),
                "branch": "feature",
                "sha": made["content"]["sha"],
            },
        )
        head = changed["commit"]["sha"]
        call(
            bot,
            "PATCH git/refs/heads/{branch}",
            "PATCH",
            "/git/refs/heads/feature",
            {"sha": head, "force": True},
        )
        call(
            bot,
            "POST pulls (refused)",
            "POST",
            "/pulls",
            {"head": "nowhere", "base": "main", "title": "t"},
        )
        pr = call(
            bot, "POST pulls", "POST", "/pulls", {"head": "feature", "base": "main", "title": "T"}
        )
        number = pr["number"]
        call(bot, "PUT issues/{n}/labels", "PUT", f"/issues/{number}/labels", {"labels": ["x"]})
        call(bot, "PATCH pulls/{n}", "PATCH", f"/pulls/{number}", {"body": "b"})
        call(bot, "GET pulls", "GET", "/pulls?state=all")
        comment = call(
            bot, "POST issues/{n}/comments", "POST", f"/issues/{number}/comments", {"body": "c"}
        )
        call(bot, "GET issues/{n}/comments", "GET", f"/issues/{number}/comments")
        cid = comment["id"]
        call(bot, "GET issues/comments/{id}", "GET", f"/issues/comments/{cid}")
        call(bot, "PATCH issues/comments/{id}", "PATCH", f"/issues/comments/{cid}", {"body": "d"})
        call(bot, "DELETE issues/comments/{id}", "DELETE", f"/issues/comments/{cid}")
        issue = call(
            bot, "POST issues", "POST", "/issues", {"title": "I", "body": "i", "labels": ["y"]}
        )
        call(bot, "GET issues", "GET", "/issues?state=all")
        call(bot, "GET issues/{n}", "GET", f"/issues/{issue['number']}")
        call(bot, "PATCH issues/{n}", "PATCH", f"/issues/{issue['number']}", {"state": "closed"})
        call(
            bot,
            "POST statuses/{sha}",
            "POST",
            f"/statuses/{head}",
            {"state": "success", "context": "c", "description": "d", "target_url": "https://x"},
        )
        call(bot, "GET statuses/{sha}", "GET", f"/statuses/{head}")
        deployment = call(
            bot,
            "POST deployments",
            "POST",
            "/deployments",
            {"ref": head, "environment": "dev", "description": "d", "payload": {"k": 1}},
        )
        did = deployment["id"]
        call(bot, "GET deployments", "GET", f"/deployments?sha={head}&environment=dev")
        call(bot, "GET deployments/{id}", "GET", f"/deployments/{did}")
        call(
            bot,
            "POST deployments/{id}/statuses",
            "POST",
            f"/deployments/{did}/statuses",
            {"state": "success", "description": "ok", "target_url": "https://log"},
        )
        call(bot, "GET deployments/{id}/statuses", "GET", f"/deployments/{did}/statuses")
        call(alice, "GET /user", "GET", "/user")
        call(
            alice,
            "POST pulls/{n}/reviews",
            "POST",
            f"/repos/acme/churn/pulls/{number}/reviews",
            {"event": "APPROVE", "commit_id": head},
        )
        call(bot, "GET pulls/{n}/reviews", "GET", f"/pulls/{number}/reviews")
        call(bot, "PUT pulls/{n}/merge", "PUT", f"/pulls/{number}/merge", {"merge_method": "merge"})
        call(bot, "GET pulls/{n}", "GET", f"/pulls/{number}")
        commit = call(bot, "GET git/commits/{sha}", "GET", f"/git/commits/{head}")
        tree = commit["tree"]["sha"]
        call(bot, "GET git/trees/{sha}", "GET", f"/git/trees/{tree}?recursive=1")
        made_tree = call(
            bot,
            "POST git/trees",
            "POST",
            "/git/trees",
            {
                "base_tree": tree,
                "tree": [
                    {"path": "b.txt", "mode": "100644", "type": "blob", "sha": None},
                    {"path": "c/d.txt", "mode": "100644", "type": "blob", "content": "d\n"},
                ],
            },
        )
        call(
            bot,
            "POST git/commits",
            "POST",
            "/git/commits",
            {"message": "revert", "tree": made_tree["sha"], "parents": [head]},
        )
        state.teams["acme/release"] = ["alice"]
        call(
            alice,
            "GET orgs/{org}/teams/{slug}/members",
            "GET",
            "/orgs/acme/teams/release/members",
        )
    return Answers(docs, codes)


#: Endpoint -> the recording it must look like (several endpoints answer the same object).
ENDPOINTS = {
    "GET git/ref/heads/{branch}": "git_ref_get",
    "POST git/refs": "git_ref_get",
    "PATCH git/refs/heads/{branch}": "git_ref_get",
    "GET contents/{path}": "contents_get",
    "PUT contents/{path} (create)": "contents_put",
    "PUT contents/{path} (update)": "contents_put",
    "POST pulls (refused)": "pulls_create_invalid",
    "POST pulls": "pulls_get",
    "PATCH pulls/{n}": "pulls_get",
    "GET pulls": "pulls_get[]",
    "GET pulls/{n}": "pulls_get",
    "PUT pulls/{n}/merge": "pulls_merge",
    "POST pulls/{n}/reviews": "pulls_reviews_create",
    "GET pulls/{n}/reviews": "pulls_reviews_list",
    "GET /user": "user_get",
    "PUT issues/{n}/labels": "issue_get.labels",
    "POST issues": "issue_get",
    "GET issues": "issue_get[]",
    "GET issues/{n}": "issue_get",
    "PATCH issues/{n}": "issue_get",
    "POST issues/{n}/comments": "issue_comment_get",
    "GET issues/{n}/comments": "issue_comment_get[]",
    "GET issues/comments/{id}": "issue_comment_get",
    "PATCH issues/comments/{id}": "issue_comment_get",
    "POST statuses/{sha}": "statuses_list.item",
    "GET statuses/{sha}": "statuses_list",
    "POST deployments": "deployment_get",
    "GET deployments": "deployment_get[]",
    "GET deployments/{id}": "deployment_get",
    "POST deployments/{id}/statuses": "deployment_status_get",
    "GET deployments/{id}/statuses": "deployment_status_get[]",
    "GET git/commits/{sha}": "git_commit_get",
    "POST git/commits": "git_commit_create",
    "GET git/trees/{sha}": "git_tree_get",
    "POST git/trees": "git_tree_create",
    "GET orgs/{org}/teams/{slug}/members": "team_members_list",
}


def spec_for(reference: str) -> dict[str, Any]:
    """The recording an endpoint is checked against (``[]``: its list; ``.item``: one item)."""
    if reference.endswith("[]"):
        spec = fixture(reference[:-2])
        return {**spec, "list": True, "body": [spec["body"]]}
    if reference.endswith(".item"):
        spec = fixture(reference.removesuffix(".item"))
        return {**spec, "list": False, "body": spec["body"][0]}
    if reference == "issue_get.labels":
        spec = fixture("issue_get")
        return {
            "class": "github.Label.Label",
            "list": True,
            "nullable": ["description"],
            "body": spec["body"]["labels"],
        }
    return fixture(reference)


def test_every_recording_names_its_source_and_pygithub_reads_it() -> None:
    for path in sorted(REPLAY.glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        assert spec["source"].startswith("PyGithub/PyGithub tests/ReplayData/"), path.name
        assert expected_paths(spec), f"{path.name}: PyGithub reads nothing of it"


def test_a_wrong_shape_is_caught() -> None:
    spec = fixture("issue_comment_get")
    broken = {**spec["body"], "id": "20227753", "user": None}
    del broken["html_url"]
    assert set(differences(spec, broken)) >= {
        "id: ours is a string, GitHub's a number",
        "html_url: missing",
        "user: ours is null, GitHub's a object",
    }
    assert differences(spec, spec["body"]) == []


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_the_server_answers_like_github(answers: Answers, endpoint: str) -> None:
    assert endpoint in answers.docs, "the scenario did not call it"
    spec = spec_for(ENDPOINTS[endpoint])
    assert answers.statuses[endpoint] == spec.get("status", answers.statuses[endpoint])
    assert answers.statuses[endpoint] < 300 or spec.get("error")
    assert differences(spec, answers.docs[endpoint]) == []


def test_deleting_a_comment_answers_204_with_no_body(answers: Answers) -> None:
    assert answers.statuses["DELETE issues/comments/{id}"] == 204
    assert answers.docs["DELETE issues/comments/{id}"] is None
