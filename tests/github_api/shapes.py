"""JSON shapes of GitHub REST objects: every key PyGithub reads in GitHub's own answers.

``test_shapes_against_replay.py`` holds these to answers recorded from GitHub (PyGithub's
ReplayData): same keys, same JSON types. Fields Slipway never models (assignees, milestones,
reactions) get GitHub's empty values.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

from .state import RepoState

WEB = "https://github.test"
NO_REACTIONS = {
    "total_count": 0,
    **{k: 0 for k in ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")},
}


def _id(text: str) -> int:
    return zlib.crc32(text.encode()) % 10_000_000


def _node(kind: str, number: int) -> str:
    return base64.b64encode(f"{kind}{number}".encode()).decode()


def user_json(api: str, login: str) -> dict[str, Any]:
    """A user as GitHub embeds it in other objects (``user``, ``creator``...)."""
    url = f"{api}/users/{login}"
    return {
        "login": login,
        "id": _id(login),
        "node_id": _node("U_", _id(login)),
        "avatar_url": f"{WEB}/avatars/{login}",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{WEB}/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": "Bot" if login.endswith("-bot") else "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def authenticated_user_json(api: str, login: str) -> dict[str, Any]:
    """``GET /user``."""
    return {**user_json(api, login), "name": login, "created_at": "2020-01-01T00:00:00Z"}


def repo_json(api: str, repo: RepoState) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}"
    return {
        "id": _id(repo.full_name),
        "node_id": _node("R_", _id(repo.full_name)),
        "name": repo.full_name.split("/")[1],
        "full_name": repo.full_name,
        "private": True,
        "owner": {**user_json(api, repo.owner), "type": "Organization"},
        "html_url": f"{WEB}/{repo.full_name}",
        "description": "",
        "fork": False,
        "url": url,
        "pulls_url": f"{url}/pulls{{/number}}",
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "pushed_at": "2020-01-01T00:00:00Z",
        "visibility": "private",
        "default_branch": repo.default_branch,
    }


def ref_json(api: str, repo: RepoState, branch: str) -> dict[str, Any]:
    sha = repo.refs[branch]
    return {
        "ref": f"refs/heads/{branch}",
        "node_id": _node("REF_", _id(branch)),
        "url": f"{api}/repos/{repo.full_name}/git/refs/heads/{branch}",
        "object": {
            "sha": sha,
            "type": "commit",
            "url": f"{api}/repos/{repo.full_name}/git/commits/{sha}",
        },
    }


def content_json(api: str, repo: RepoState, path: str, data: bytes, blob: str) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/contents/{path}"
    git = f"{api}/repos/{repo.full_name}/git/blobs/{blob}"
    html = f"{WEB}/{repo.full_name}/blob/{blob}/{path}"
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": base64.encodebytes(data).decode(),
        "sha": blob,
        "url": url,
        "html_url": html,
        "git_url": git,
        "download_url": f"{WEB}/raw/{repo.full_name}/{blob}/{path}",
        "_links": {"self": url, "git": git, "html": html},
    }


def commit_json(api: str, repo: RepoState, sha: str) -> dict[str, Any]:
    """A commit as ``GET /commits/{sha}`` answers it."""
    commit = repo.commits[sha]
    url = f"{api}/repos/{repo.full_name}/commits/{sha}"
    return {
        "sha": sha,
        "url": url,
        "html_url": f"{WEB}/{repo.full_name}/commit/{sha}",
        "commit": {"message": commit.message, "url": url},
        "parents": [
            {"sha": p, "url": f"{api}/repos/{repo.full_name}/commits/{p}"} for p in commit.parents
        ],
    }


def git_commit_json(api: str, repo: RepoState, sha: str) -> dict[str, Any]:
    """A commit as the contents API answers it (the git object: author, tree, message)."""
    commit = repo.commits[sha]
    git = f"{api}/repos/{repo.full_name}/git"
    person = {"name": "Slipway", "email": "slipway@localhost", "date": "2020-01-01T00:00:00Z"}
    tree = repo.tree_sha(commit.tree)
    return {
        "sha": sha,
        "node_id": _node("C_", _id(sha)),
        "url": f"{git}/commits/{sha}",
        "html_url": f"{WEB}/{repo.full_name}/commit/{sha}",
        "author": person,
        "committer": person,
        "message": commit.message,
        "tree": {"sha": tree, "url": f"{git}/trees/{tree}"},
        "parents": [
            {
                "sha": p,
                "url": f"{git}/commits/{p}",
                "html_url": f"{WEB}/{repo.full_name}/commit/{p}",
            }
            for p in commit.parents
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def git_tree_json(api: str, repo: RepoState, sha: str, *, recursive: bool) -> dict[str, Any]:
    """A tree as ``GET /git/trees/{sha}`` (and ``POST /git/trees``) answer it."""
    git = f"{api}/repos/{repo.full_name}/git"
    entries = []
    for path, kind, ref in repo.tree_listing(sha, recursive=recursive):
        entry: dict[str, Any] = {
            "path": path,
            "mode": "100644" if kind == "blob" else "040000",
            "type": kind,
            "sha": ref,
        }
        if kind == "blob":
            entry["size"] = len(repo.blobs[ref])
        entry["url"] = f"{git}/{'blobs' if kind == 'blob' else 'trees'}/{ref}"
        entries.append(entry)
    return {"sha": sha, "url": f"{git}/trees/{sha}", "tree": entries, "truncated": False}


def label_json(api: str, repo: RepoState, name: str) -> dict[str, Any]:
    return {
        "id": _id(name),
        "node_id": _node("LA_", _id(name)),
        "url": f"{api}/repos/{repo.full_name}/labels/{name}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


def _part(api: str, repo: RepoState, ref: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": {**user_json(api, repo.owner), "type": "Organization"},
        "repo": repo_json(api, repo),
    }


def pull_json(api: str, repo: RepoState, pr: dict[str, Any]) -> dict[str, Any]:
    number = pr["number"]
    head_sha = pr["merged_head_sha"] or repo.refs.get(pr["head"], "0" * 40)
    issue = repo.issues[number]
    url = f"{api}/repos/{repo.full_name}/pulls/{number}"
    issue_url = f"{api}/repos/{repo.full_name}/issues/{number}"
    html = f"{WEB}/{repo.full_name}/pull/{number}"
    links = {
        "self": url,
        "html": html,
        "issue": issue_url,
        "comments": f"{issue_url}/comments",
        "review_comments": f"{url}/comments",
        "review_comment": f"{api}/repos/{repo.full_name}/pulls/comments{{/number}}",
        "commits": f"{url}/commits",
        "statuses": f"{api}/repos/{repo.full_name}/statuses/{head_sha}",
    }
    merged_by = pr.get("merged_by")
    base_sha = repo.refs[pr["base"]]
    return {
        "url": url,
        "id": 10_000 + number,
        "node_id": _node("PR_", number),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "number": number,
        "state": issue["state"],
        "locked": False,
        "title": issue["title"],
        "user": user_json(api, pr["user"]),
        "body": issue["body"],
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue.get("closed_at"),
        "merged_at": pr["merged_at"],
        "merge_commit_sha": pr["merge_commit_sha"],
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [label_json(api, repo, n) for n in issue["labels"]],
        "milestone": None,
        "draft": False,
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "head": _part(api, repo, pr["head"], head_sha),
        "base": _part(api, repo, pr["base"], base_sha),
        "_links": {key: {"href": value} for key, value in links.items()},
        "author_association": "MEMBER",
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": pr["merged_at"] is not None,
        "mergeable": None,
        "rebaseable": None,
        "mergeable_state": "unknown",
        "merged_by": user_json(api, merged_by) if merged_by else None,
        "comments": sum(1 for c in repo.comments.values() if c["issue"] == number),
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": max(1, len(set(repo.ancestors(head_sha)) - set(repo.ancestors(base_sha)))),
        "additions": 0,
        "deletions": 0,
        "changed_files": 0,
    }


def issue_json(api: str, repo: RepoState, issue: dict[str, Any]) -> dict[str, Any]:
    number = issue["number"]
    url = f"{api}/repos/{repo.full_name}/issues/{number}"
    closed_by = issue.get("closed_by")
    doc = {
        "url": url,
        "repository_url": f"{api}/repos/{repo.full_name}",
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{WEB}/{repo.full_name}/issues/{number}",
        "id": 20_000 + number,
        "node_id": _node("I_", number),
        "number": number,
        "title": issue["title"],
        "user": user_json(api, issue["user"]),
        "labels": [label_json(api, repo, n) for n in issue["labels"]],
        "state": issue["state"],
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": sum(1 for c in repo.comments.values() if c["issue"] == number),
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue.get("closed_at"),
        "author_association": "MEMBER",
        "active_lock_reason": None,
        "body": issue["body"],
        "closed_by": user_json(api, closed_by) if closed_by else None,
        "reactions": {"url": f"{url}/reactions", **NO_REACTIONS},
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
        "state_reason": "completed" if issue["state"] == "closed" else None,
    }
    if number in repo.pulls:
        doc["pull_request"] = {"url": f"{api}/repos/{repo.full_name}/pulls/{number}"}
    return doc


def comment_json(api: str, repo: RepoState, comment: dict[str, Any]) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/issues/comments/{comment['id']}"
    return {
        "url": url,
        "html_url": f"{WEB}/{repo.full_name}/issues/{comment['issue']}"
        f"#issuecomment-{comment['id']}",
        "issue_url": f"{api}/repos/{repo.full_name}/issues/{comment['issue']}",
        "id": comment["id"],
        "node_id": _node("IC_", comment["id"]),
        "user": user_json(api, comment["user"]),
        "created_at": comment["created_at"],
        "updated_at": comment["updated_at"],
        "author_association": "MEMBER",
        "body": comment["body"],
        "reactions": {"url": f"{url}/reactions", **NO_REACTIONS},
        "performed_via_github_app": None,
    }


def status_json(api: str, repo: RepoState, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": status["id"],
        "node_id": _node("SC_", status["id"]),
        "url": f"{api}/repos/{repo.full_name}/statuses/{status['sha']}",
        "avatar_url": f"{WEB}/avatars/{status['creator']}",
        "state": status["state"],
        "description": status["description"],
        "target_url": status["target_url"],
        "context": status["context"],
        "creator": user_json(api, status["creator"]),
        "created_at": status["created_at"],
        "updated_at": status["created_at"],
    }


def deployment_json(api: str, repo: RepoState, deployment: dict[str, Any]) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/deployments/{deployment['id']}"
    return {
        "url": url,
        "id": deployment["id"],
        "node_id": _node("DE_", deployment["id"]),
        "sha": deployment["sha"],
        "ref": deployment["ref"],
        "task": "deploy",
        "payload": deployment["payload"],
        "original_environment": deployment["environment"],
        "environment": deployment["environment"],
        "description": deployment["description"],
        "creator": user_json(api, deployment["creator"]),
        "created_at": deployment["created_at"],
        "updated_at": deployment["created_at"],
        "statuses_url": f"{url}/statuses",
        "repository_url": f"{api}/repos/{repo.full_name}",
        "transient_environment": deployment["transient_environment"],
        "production_environment": deployment["production_environment"],
        "performed_via_github_app": None,
    }


def deployment_status_json(
    api: str, repo: RepoState, deployment_id: int, status: dict[str, Any]
) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/deployments/{deployment_id}"
    return {
        "url": f"{url}/statuses/{status['id']}",
        "id": status["id"],
        "node_id": _node("DES_", status["id"]),
        "state": status["state"],
        "creator": user_json(api, status["creator"]),
        "description": status["description"],
        "environment": status["environment"],
        "target_url": status["target_url"],
        "created_at": status["created_at"],
        "updated_at": status["created_at"],
        "deployment_url": url,
        "repository_url": f"{api}/repos/{repo.full_name}",
        "environment_url": status["environment_url"],
        "log_url": status["target_url"],
        "performed_via_github_app": None,
    }


def review_json(api: str, repo: RepoState, number: int, review: dict[str, Any]) -> dict[str, Any]:
    pull = f"{api}/repos/{repo.full_name}/pulls/{number}"
    html = f"{WEB}/{repo.full_name}/pull/{number}#pullrequestreview-{review['id']}"
    return {
        "id": review["id"],
        "node_id": _node("PRR_", review["id"]),
        "user": user_json(api, review["user"]),
        "body": review["body"],
        "state": review["state"],
        "html_url": html,
        "pull_request_url": pull,
        "author_association": "MEMBER",
        "_links": {"html": {"href": html}, "pull_request": {"href": pull}},
        "submitted_at": review["submitted_at"],
        "commit_id": review["commit_id"],
    }
