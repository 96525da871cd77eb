"""Routes of the fake GitHub: issues, labels, comments, commit statuses and deployments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import shapes
from .helpers import (
    R,
    check_length,
    ctx_of,
    edit_issue,
    find_comment,
    find_issue,
    page,
    sort_direction,
)
from .state import ApiError, GitHubState, now_iso

DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def issue_routes(state: GitHubState) -> APIRouter:
    router = APIRouter()
    ctx = ctx_of(state)

    # -- issues, labels, comments --------------------------------------------------------

    @router.get(R + "/issues")
    async def list_issues(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        q = request.query_params
        labels = [x for x in q.get("labels", "").split(",") if x]
        newest_first = sort_direction(request) == "desc"
        found = [
            shapes.issue_json(api, repo, issue)
            for _, issue in sorted(repo.issues.items(), reverse=newest_first)
            if q.get("state", "open") in ("all", issue["state"])
            and all(label in issue["labels"] for label in labels)
        ]
        return page(request, found)

    @router.post(R + "/issues", status_code=201)
    async def create_issue(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        check_length(body.get("body"))
        with state.lock:
            number = repo.next_number()
            stamp = now_iso()
            repo.issues[number] = {
                "number": number,
                "title": body["title"],
                "body": body.get("body") or "",
                "state": "open",
                "labels": list(body.get("labels") or []),
                "user": request.state.login,
                "created_at": stamp,
                "updated_at": stamp,
            }
        return shapes.issue_json(api, repo, repo.issues[number])

    @router.get(R + "/issues/{number}")
    async def get_issue(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        return shapes.issue_json(api, repo, find_issue(repo, number))

    @router.patch(R + "/issues/{number}")
    async def patch_issue(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        check_length(body.get("body"))
        with state.lock:
            edit_issue(find_issue(repo, number), body, by=request.state.login)
        return shapes.issue_json(api, repo, repo.issues[number])

    @router.put(R + "/issues/{number}/labels")
    async def set_labels(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        names = body["labels"] if isinstance(body, dict) else body
        with state.lock:
            find_issue(repo, number)["labels"] = [str(n) for n in names]
        return [shapes.label_json(api, repo, n) for n in repo.issues[number]["labels"]]

    @router.get(R + "/issues/{number}/comments")
    async def list_comments(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        find_issue(repo, number)
        found = [
            shapes.comment_json(api, repo, c)
            for _, c in sorted(repo.comments.items())
            if c["issue"] == number
        ]
        return page(request, found)

    @router.post(R + "/issues/{number}/comments", status_code=201)
    async def create_comment(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        check_length(body.get("body"))
        with state.lock:
            find_issue(repo, number)
            stamp = now_iso()
            comment = {
                "id": repo.next_id(),
                "issue": number,
                "body": body["body"],
                "user": request.state.login,
                "created_at": stamp,
                "updated_at": stamp,
            }
            repo.comments[comment["id"]] = comment
        return shapes.comment_json(api, repo, comment)

    @router.get(R + "/issues/comments/{comment_id}")
    async def get_comment(request: Request, owner: str, name: str, comment_id: int) -> Any:
        api, repo = ctx(request, owner, name)
        return shapes.comment_json(api, repo, find_comment(repo, comment_id))

    @router.patch(R + "/issues/comments/{comment_id}")
    async def patch_comment(request: Request, owner: str, name: str, comment_id: int) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        check_length(body.get("body"))
        with state.lock:
            find_comment(repo, comment_id).update(body=body["body"], updated_at=now_iso())
        return shapes.comment_json(api, repo, repo.comments[comment_id])

    @router.delete(R + "/issues/comments/{comment_id}", status_code=204)
    async def delete_comment(request: Request, owner: str, name: str, comment_id: int) -> Response:
        _, repo = ctx(request, owner, name)
        with state.lock:
            find_comment(repo, comment_id)
            del repo.comments[comment_id]
        return Response(status_code=204)

    # -- statuses and deployments -----------------------------------------------------

    @router.post(R + "/statuses/{sha}", status_code=201)
    async def create_status(request: Request, owner: str, name: str, sha: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        if sha not in repo.commits:
            raise ApiError(422, "No commit found for SHA: " + sha)
        if body.get("state") not in ("pending", "success", "failure", "error"):
            raise ApiError(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
        status = {
            "id": repo.next_id(),
            "sha": sha,
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "creator": request.state.login,
            "created_at": now_iso(),
        }
        with state.lock:
            repo.statuses.setdefault(sha, []).insert(0, status)
        return shapes.status_json(api, repo, status)

    @router.get(R + "/statuses/{ref}")
    @router.get(R + "/commits/{ref}/statuses")
    async def list_statuses(request: Request, owner: str, name: str, ref: str) -> Any:
        api, repo = ctx(request, owner, name)
        found = repo.statuses.get(repo.resolve(ref), [])
        return page(request, [shapes.status_json(api, repo, s) for s in found])

    @router.get(R + "/deployments")
    async def list_deployments(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        q = request.query_params
        found = [
            shapes.deployment_json(api, repo, d)
            for _, d in sorted(repo.deployments.items(), reverse=True)
            if q.get("sha") in (None, d["sha"]) and q.get("environment") in (None, d["environment"])
        ]
        return page(request, found)

    @router.post(R + "/deployments", status_code=201)
    async def create_deployment(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        sha = repo.resolve(body["ref"])
        deployment = {
            "id": repo.next_id(),
            "sha": sha,
            "ref": body["ref"],
            "environment": body.get("environment", "production"),
            "description": body.get("description"),
            "payload": body.get("payload") or {},
            "creator": request.state.login,
            "transient_environment": bool(body.get("transient_environment")),
            "production_environment": bool(body.get("production_environment")),
            "created_at": now_iso(),
        }
        with state.lock:
            repo.deployments[deployment["id"]] = deployment
            repo.deployment_statuses[deployment["id"]] = []
        return shapes.deployment_json(api, repo, deployment)

    @router.get(R + "/deployments/{deployment_id}")
    async def get_deployment(request: Request, owner: str, name: str, deployment_id: int) -> Any:
        api, repo = ctx(request, owner, name)
        if deployment_id not in repo.deployments:
            raise ApiError(404, "Not Found")
        return shapes.deployment_json(api, repo, repo.deployments[deployment_id])

    @router.post(R + "/deployments/{deployment_id}/statuses", status_code=201)
    async def create_deployment_status(
        request: Request, owner: str, name: str, deployment_id: int
    ) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        if deployment_id not in repo.deployments:
            raise ApiError(404, "Not Found")
        if body.get("state") not in DEPLOYMENT_STATES:
            raise ApiError(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
        environment = body.get("environment") or repo.deployments[deployment_id]["environment"]
        status = {
            "id": repo.next_id(),
            "state": body["state"],
            "description": body.get("description", ""),
            "environment": environment,
            "target_url": body.get("target_url") or body.get("log_url"),
            "environment_url": body.get("environment_url"),
            "creator": request.state.login,
            "created_at": now_iso(),
        }
        with state.lock:
            repo.deployment_statuses[deployment_id].insert(0, status)
        return shapes.deployment_status_json(api, repo, deployment_id, status)

    @router.get(R + "/deployments/{deployment_id}/statuses")
    async def list_deployment_statuses(
        request: Request, owner: str, name: str, deployment_id: int
    ) -> Any:
        api, repo = ctx(request, owner, name)
        found = repo.deployment_statuses.get(deployment_id)
        if found is None:
            raise ApiError(404, "Not Found")
        return page(
            request, [shapes.deployment_status_json(api, repo, deployment_id, s) for s in found]
        )

    return router
