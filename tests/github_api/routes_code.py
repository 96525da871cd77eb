"""Routes of the fake GitHub: git refs, commits, contents and pull requests."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from . import shapes
from .helpers import R, ctx_of, edit_issue, find_pull, invalid_pull, page
from .state import ApiError, GitHubState, now_iso


def code_routes(state: GitHubState) -> APIRouter:
    router = APIRouter()
    ctx = ctx_of(state)

    @router.get(R)
    async def get_repo(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        return shapes.repo_json(api, repo)

    # -- git refs, commits, contents ---------------------------------------------------

    @router.get(R + "/git/ref/heads/{branch:path}")
    async def get_ref(request: Request, owner: str, name: str, branch: str) -> Any:
        api, repo = ctx(request, owner, name)
        if branch not in repo.refs:
            raise ApiError(404, "Not Found")
        return shapes.ref_json(api, repo, branch)

    @router.post(R + "/git/refs", status_code=201)
    async def create_ref(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        branch = str(body["ref"]).removeprefix("refs/heads/")
        with state.lock:
            if branch in repo.refs:
                raise ApiError(422, "Reference already exists")
            if body["sha"] not in repo.commits:
                raise ApiError(422, "Object does not exist")
            repo.refs[branch] = body["sha"]
        return shapes.ref_json(api, repo, branch)

    @router.patch(R + "/git/refs/heads/{branch:path}")
    async def update_ref(request: Request, owner: str, name: str, branch: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        with state.lock:
            if branch not in repo.refs:
                raise ApiError(422, "Reference does not exist")
            fast_forward = repo.refs[branch] in repo.ancestors(body["sha"])
            if not body.get("force") and not fast_forward:
                raise ApiError(422, "Update is not a fast forward")
            repo.refs[branch] = body["sha"]
        return shapes.ref_json(api, repo, branch)

    @router.get(R + "/commits/{ref}")
    async def get_commit(request: Request, owner: str, name: str, ref: str) -> Any:
        api, repo = ctx(request, owner, name)
        return shapes.commit_json(api, repo, repo.resolve(ref))

    @router.get(R + "/contents/{path:path}")
    async def get_contents(request: Request, owner: str, name: str, path: str) -> Any:
        api, repo = ctx(request, owner, name)
        data, blob = repo.file_at(request.query_params.get("ref"), path)
        return shapes.content_json(api, repo, path, data, blob)

    @router.put(R + "/contents/{path:path}")
    async def put_contents(request: Request, owner: str, name: str, path: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        branch = body.get("branch") or repo.default_branch
        content = base64.b64decode(body["content"])
        with state.lock:
            if branch not in repo.refs:
                raise ApiError(404, f"Branch {branch} not found")
            current = repo.commits[repo.refs[branch]].tree.get(path)
            if current is not None and body.get("sha") is None:
                raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
            if current is not None and body["sha"] != current:
                raise ApiError(409, f"{path} does not match {body['sha']}")
            sha = repo.commit_file(branch, path, content, body["message"])
            blob = repo.commits[sha].tree[path]
        doc = {
            "content": shapes.content_json(api, repo, path, content, blob),
            "commit": shapes.commit_json(api, repo, sha),
        }
        return JSONResponse(doc, status_code=201 if current is None else 200)

    # -- pull requests ---------------------------------------------------------------

    @router.get(R + "/pulls")
    async def list_pulls(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        q = request.query_params
        wanted_state = q.get("state", "open")
        found = []
        for number, pr in sorted(repo.pulls.items()):
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
                    raise ApiError(422, "Validation Failed", [{"field": "head", "code": "invalid"}])
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
                "created_at": stamp,
                "updated_at": stamp,
            }
            repo.pulls[number] = {
                "number": number,
                "head": head,
                "base": base,
                "merged_at": None,
                "merge_commit_sha": None,
                "merged_head_sha": None,
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
            edit_issue(repo.issues[number], body)
        return shapes.pull_json(api, repo, pr)

    @router.put(R + "/pulls/{number}/merge")
    async def merge_pull(request: Request, owner: str, name: str, number: int) -> Any:
        _, repo = ctx(request, owner, name)
        body = await request.json() if await request.body() else {}
        with state.lock:
            pr = find_pull(repo, number)
            if repo.issues[number]["state"] != "open":
                raise ApiError(405, "Pull Request is not mergeable")
            head_sha = repo.refs[pr["head"]]
            message = body.get("commit_message") or f"Merge pull request #{number}"
            sha = repo.merge(pr["base"], head_sha, message)
            pr.update(merged_at=now_iso(), merge_commit_sha=sha, merged_head_sha=head_sha)
            repo.issues[number].update(state="closed", closed_at=now_iso())
        return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}

    return router
