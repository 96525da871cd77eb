"""Helpers of the fake GitHub's routes: error bodies, pagination, lookups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from .state import ApiError, GitHubState, RepoState, now_iso

MAX_BODY = 65_536
DOCS = "https://docs.github.com/rest"
R = "/repos/{owner}/{name}"


def ctx_of(state: GitHubState) -> Callable[[Request, str, str], tuple[str, RepoState]]:
    def ctx(request: Request, owner: str, name: str) -> tuple[str, RepoState]:
        return str(request.base_url).rstrip("/"), state.repo(f"{owner}/{name}")

    return ctx


def error(
    status: int,
    message: str,
    *,
    errors: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    doc: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors:
        doc["errors"] = errors
    return JSONResponse(doc, status_code=status, headers=headers)


def page(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
    per_page = int(request.query_params.get("per_page", 30))
    number = int(request.query_params.get("page", 1))
    chunk = items[(number - 1) * per_page : number * per_page]
    headers = {}
    if number * per_page < len(items):
        params = dict(request.query_params) | {"page": str(number + 1), "per_page": str(per_page)}
        query = "&".join(f"{k}={v}" for k, v in params.items())
        headers["Link"] = f'<{request.url.replace(query=query)}>; rel="next"'
    return JSONResponse(chunk, headers=headers)


def sort_direction(request: Request) -> str:
    """``asc`` or ``desc`` (GitHub lists newest first unless asked otherwise)."""
    return "asc" if request.query_params.get("direction") == "asc" else "desc"


def invalid_pull(message: str) -> ApiError:
    detail = {"resource": "PullRequest", "code": "custom", "message": message}
    return ApiError(422, "Validation Failed", [detail])


def check_length(body: Any) -> None:
    if isinstance(body, str) and len(body) > MAX_BODY:
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "IssueComment",
                    "code": "custom",
                    "field": "body",
                    "message": f"body is too long (maximum is {MAX_BODY} characters)",
                }
            ],
        )


def find_issue(repo: RepoState, number: int) -> dict[str, Any]:
    if number not in repo.issues:
        raise ApiError(404, "Not Found")
    return repo.issues[number]


def find_pull(repo: RepoState, number: int) -> dict[str, Any]:
    if number not in repo.pulls:
        raise ApiError(404, "Not Found")
    return repo.pulls[number]


def find_comment(repo: RepoState, comment_id: int) -> dict[str, Any]:
    if comment_id not in repo.comments:
        raise ApiError(404, "Not Found")
    return repo.comments[comment_id]


def edit_issue(issue: dict[str, Any], body: dict[str, Any], *, by: str) -> None:
    for key in ("title", "body", "state"):
        if key in body and body[key] is not None:
            issue[key] = body[key]
    if body.get("labels") is not None:
        issue["labels"] = [str(n) for n in body["labels"]]
    if body.get("state") == "closed":
        issue["closed_at"] = now_iso()
        issue["closed_by"] = by
    issue["updated_at"] = now_iso()
