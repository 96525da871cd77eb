"""JSON shapes of GitHub REST objects, with the fields PyGithub reads (and a few more)."""

from __future__ import annotations

import base64
from typing import Any

from .state import RepoState

WEB = "https://github.test"


def user_json(api: str, login: str) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 100_000, "type": "User"}


def repo_json(api: str, repo: RepoState) -> dict[str, Any]:
    return {
        "id": 1,
        "name": repo.full_name.split("/")[1],
        "full_name": repo.full_name,
        "owner": {"login": repo.owner, "id": 2, "type": "Organization"},
        "default_branch": repo.default_branch,
        "private": True,
        "url": f"{api}/repos/{repo.full_name}",
        "html_url": f"{WEB}/{repo.full_name}",
    }


def ref_json(api: str, repo: RepoState, branch: str) -> dict[str, Any]:
    sha = repo.refs[branch]
    return {
        "ref": f"refs/heads/{branch}",
        "node_id": f"REF_{branch}",
        "url": f"{api}/repos/{repo.full_name}/git/refs/heads/{branch}",
        "object": {
            "sha": sha,
            "type": "commit",
            "url": f"{api}/repos/{repo.full_name}/git/commits/{sha}",
        },
    }


def content_json(api: str, repo: RepoState, path: str, data: bytes, blob: str) -> dict[str, Any]:
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": base64.encodebytes(data).decode(),
        "sha": blob,
        "url": f"{api}/repos/{repo.full_name}/contents/{path}",
        "html_url": f"{WEB}/{repo.full_name}/blob/{blob}/{path}",
        "git_url": f"{api}/repos/{repo.full_name}/git/blobs/{blob}",
        "download_url": None,
    }


def commit_json(api: str, repo: RepoState, sha: str) -> dict[str, Any]:
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


def label_json(api: str, repo: RepoState, name: str) -> dict[str, Any]:
    return {"name": name, "color": "ededed", "url": f"{api}/repos/{repo.full_name}/labels/{name}"}


def _part(api: str, repo: RepoState, ref: str, sha: str) -> dict[str, Any]:
    return {"ref": ref, "sha": sha, "label": f"{repo.owner}:{ref}", "repo": repo_json(api, repo)}


def pull_json(api: str, repo: RepoState, pr: dict[str, Any]) -> dict[str, Any]:
    number = pr["number"]
    head_sha = pr["merged_head_sha"] or repo.refs.get(pr["head"], "0" * 40)
    issue = repo.issues[number]
    return {
        "url": f"{api}/repos/{repo.full_name}/pulls/{number}",
        "html_url": f"{WEB}/{repo.full_name}/pull/{number}",
        "issue_url": f"{api}/repos/{repo.full_name}/issues/{number}",
        "id": 10_000 + number,
        "number": number,
        "state": issue["state"],
        "title": issue["title"],
        "body": issue["body"],
        "labels": [label_json(api, repo, n) for n in issue["labels"]],
        "user": user_json(api, pr["user"]),
        "head": _part(api, repo, pr["head"], head_sha),
        "base": _part(api, repo, pr["base"], repo.refs[pr["base"]]),
        "draft": False,
        "merged": pr["merged_at"] is not None,
        "merged_at": pr["merged_at"],
        "merge_commit_sha": pr["merge_commit_sha"],
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
    }


def issue_json(api: str, repo: RepoState, issue: dict[str, Any]) -> dict[str, Any]:
    number = issue["number"]
    doc = {
        "url": f"{api}/repos/{repo.full_name}/issues/{number}",
        "html_url": f"{WEB}/{repo.full_name}/issues/{number}",
        "repository_url": f"{api}/repos/{repo.full_name}",
        "id": 20_000 + number,
        "number": number,
        "state": issue["state"],
        "title": issue["title"],
        "body": issue["body"],
        "labels": [label_json(api, repo, n) for n in issue["labels"]],
        "user": user_json(api, issue["user"]),
        "comments": sum(1 for c in repo.comments.values() if c["issue"] == number),
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue.get("closed_at"),
    }
    if number in repo.pulls:
        doc["pull_request"] = {"url": f"{api}/repos/{repo.full_name}/pulls/{number}"}
    return doc


def comment_json(api: str, repo: RepoState, comment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": comment["id"],
        "url": f"{api}/repos/{repo.full_name}/issues/comments/{comment['id']}",
        "html_url": f"{WEB}/{repo.full_name}/issues/{comment['issue']}"
        f"#issuecomment-{comment['id']}",
        "issue_url": f"{api}/repos/{repo.full_name}/issues/{comment['issue']}",
        "body": comment["body"],
        "user": user_json(api, comment["user"]),
        "created_at": comment["created_at"],
        "updated_at": comment["updated_at"],
    }


def status_json(api: str, repo: RepoState, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": status["id"],
        "url": f"{api}/repos/{repo.full_name}/statuses/{status['sha']}",
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
        "id": deployment["id"],
        "url": url,
        "statuses_url": f"{url}/statuses",
        "repository_url": f"{api}/repos/{repo.full_name}",
        "sha": deployment["sha"],
        "ref": deployment["ref"],
        "task": "deploy",
        "payload": deployment["payload"],
        "environment": deployment["environment"],
        "original_environment": deployment["environment"],
        "description": deployment["description"],
        "transient_environment": deployment["transient_environment"],
        "production_environment": deployment["production_environment"],
        "creator": user_json(api, "slipway-bot"),
        "created_at": deployment["created_at"],
        "updated_at": deployment["created_at"],
    }


def deployment_status_json(
    api: str, repo: RepoState, deployment_id: int, status: dict[str, Any]
) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/deployments/{deployment_id}"
    return {
        "id": status["id"],
        "url": f"{url}/statuses/{status['id']}",
        "deployment_url": url,
        "repository_url": f"{api}/repos/{repo.full_name}",
        "state": status["state"],
        "description": status["description"],
        "environment": status["environment"],
        "target_url": status["target_url"],
        "log_url": status["target_url"],
        "environment_url": status["environment_url"],
        "creator": user_json(api, "slipway-bot"),
        "created_at": status["created_at"],
        "updated_at": status["created_at"],
    }


def review_json(api: str, repo: RepoState, number: int, review: dict[str, Any]) -> dict[str, Any]:
    pull = f"{api}/repos/{repo.full_name}/pulls/{number}"
    html = f"{WEB}/{repo.full_name}/pull/{number}#pullrequestreview-{review['id']}"
    return {
        "id": review["id"],
        "user": user_json(api, review["user"]),
        "body": review["body"],
        "state": review["state"],
        "html_url": html,
        "pull_request_url": pull,
        "commit_id": review["commit_id"],
        "submitted_at": review["submitted_at"],
    }
