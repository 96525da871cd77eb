"""Routes of the fake GitHub: pull requests, reviews, merges (under branch protection), /user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from . import shapes
from .helpers import R, ctx_of, edit_issue, find_pull, invalid_pull, page, sort_direction
from .state import ApiError, GitHubState, RepoState, now_iso

#: A review's ``event`` and the state GitHub gives the review.
REVIEW_STATES = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}


def pull_routes(state: GitHubState) -> APIRouter:
    router = APIRouter()
    ctx = ctx_of(state)

    @router.get("/user")
    async def get_user(request: Request) -> Any:
        return shapes.authenticated_user_json(
            str(request.base_url).rstrip("/"), request.state.login
        )

    @router.get("/orgs/{org}/teams/{slug}/members")
    async def list_team_members(request: Request, org: str, slug: str) -> Any:
        api = str(request.base_url).rstrip("/")
        members = state.teams.get(f"{org}/{slug}")
        if members is None:
            raise ApiError(404, "Not Found")
        return page(request, [shapes.user_json(api, login) for login in sorted(members)])

    @router.get(R + "/pulls")
    async def list_pulls(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        q = request.query_params
        wanted_state = q.get("state", "open")
        found = []
        for number, pr in sorted(repo.pulls.items(), reverse=sort_direction(request) == "desc"):
            issue = repo.issues[number]
            if wanted_state != "all" and issue["state"] != wanted_state:
                continue
            if q.get("head") and q["head"] != f"{repo.owner}:{pr['head']}":
                continue
            if q.get("base") and q["base"] != pr["base"]:
                continue
            found.append(shapes.pull_json(api, repo, pr))
        return page(request, found)

    @router.post(R + "/pulls", status_code=201)
    async def create_pull(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        head, base = body["head"].split(":")[-1], body["base"]
        with state.lock:
            for ref in (head, base):
                if ref not in repo.refs:
                    field = "head" if ref == head else "base"
                    detail = {"resource": "PullRequest", "field": field, "code": "invalid"}
                    raise ApiError(422, "Validation Failed", [detail])
            for number, pr in repo.pulls.items():
                same = pr["head"] == head and pr["base"] == base
                if same and repo.issues[number]["state"] == "open":
                    raise invalid_pull(f"A pull request already exists for {repo.owner}:{head}.")
            if repo.commits[repo.refs[head]].tree == repo.commits[repo.refs[base]].tree:
                raise invalid_pull(f"No commits between {base} and {head}")
            number = repo.next_number()
            stamp = now_iso()
            repo.issues[number] = {
                "number": number,
                "title": body.get("title", ""),
                "body": body.get("body") or "",
                "state": "open",
                "labels": [],
                "user": request.state.login,
                "created_at": stamp,
                "updated_at": stamp,
            }
            repo.pulls[number] = {
                "number": number,
                "head": head,
                "base": base,
                "user": request.state.login,
                "merged_at": None,
                "merge_commit_sha": None,
                "merged_head_sha": None,
                "merged_by": None,
            }
        return shapes.pull_json(api, repo, repo.pulls[number])

    @router.get(R + "/pulls/{number}")
    async def get_pull(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        return shapes.pull_json(api, repo, find_pull(repo, number))

    @router.patch(R + "/pulls/{number}")
    async def edit_pull(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        with state.lock:
            pr = find_pull(repo, number)
            edit_issue(repo.issues[number], body, by=request.state.login)
        return shapes.pull_json(api, repo, pr)

    @router.get(R + "/pulls/{number}/reviews")
    async def list_reviews(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        find_pull(repo, number)
        found = [shapes.review_json(api, repo, number, r) for r in repo.reviews.get(number, [])]
        return page(request, found)

    @router.post(R + "/pulls/{number}/reviews")
    async def create_review(request: Request, owner: str, name: str, number: int) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        login = request.state.login
        with state.lock:
            pr = find_pull(repo, number)
            event = body.get("event")
            if event == "APPROVE" and login == pr["user"]:
                raise ApiError(
                    422, "Unprocessable Entity", ["Can not approve your own pull request"]
                )
            commit_id = body.get("commit_id") or repo.refs[pr["head"]]
            if commit_id not in repo.commits:
                raise ApiError(
                    422, "Unprocessable Entity", ["Commit id is not part of the pull request"]
                )
            review = {
                "id": repo.next_id(),
                "user": login,
                "state": REVIEW_STATES.get(event or "", "PENDING"),
                "body": body.get("body") or "",
                "commit_id": commit_id,
                "submitted_at": now_iso(),
            }
            repo.reviews.setdefault(number, []).append(review)
        return shapes.review_json(api, repo, number, review)

    @router.put(R + "/pulls/{number}/merge")
    async def merge_pull(request: Request, owner: str, name: str, number: int) -> Any:
        _, repo = ctx(request, owner, name)
        body = await request.json() if await request.body() else {}
        with state.lock:
            pr = find_pull(repo, number)
            if repo.issues[number]["state"] != "open":
                raise ApiError(405, "Pull Request is not mergeable")
            head_sha = repo.refs[pr["head"]]
            if body.get("sha") and body["sha"] != head_sha:
                raise ApiError(409, "Head branch was modified. Review and try the merge again.")
            _check_protection(repo, pr, head_sha)
            message = body.get("commit_message") or f"Merge pull request #{number}"
            sha = repo.merge(pr["base"], head_sha, message)
            pr.update(
                merged_at=now_iso(),
                merge_commit_sha=sha,
                merged_head_sha=head_sha,
                merged_by=request.state.login,
            )
            repo.issues[number].update(state="closed", closed_at=now_iso())
        return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}

    return router


def _check_protection(repo: RepoState, pr: dict[str, Any], head_sha: str) -> None:
    """Refuse the merge (405) the way GitHub's branch protection does."""
    rules = repo.protection.get(pr["base"])
    if rules is None:
        return
    approvers = {
        r["user"]
        for r in repo.reviews.get(pr["number"], [])
        if r["state"] == "APPROVED"
        and r["user"] != pr["user"]
        and (r["commit_id"] == head_sha or not rules.dismiss_stale_reviews)
    }
    if len(approvers) < rules.required_approvals:
        raise ApiError(
            405,
            f"At least {rules.required_approvals} approving review is required by reviewers "
            "with write access.",
        )
    latest: dict[str, str] = {}
    for status in repo.statuses.get(head_sha, []):  # newest first
        latest.setdefault(status["context"], status["state"])
    if rules.strict and repo.refs[pr["base"]] not in repo.ancestors(head_sha):
        count = len(rules.required_contexts)  # GitHub reports a branch behind its base so
        raise ApiError(405, f"{count} of {count} required status checks are expected.")
    for context in rules.required_contexts:
        if context not in latest:
            raise ApiError(405, f'Required status check "{context}" is expected.')
        if latest[context] != "success":
            raise ApiError(405, f'Required status check "{context}" is failing.')
