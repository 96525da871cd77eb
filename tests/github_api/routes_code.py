"""Routes of the fake GitHub: the repository, git refs, commits and contents."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from . import shapes
from .helpers import R, ctx_of
from .state import ApiError, GitHubState


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

    @router.get(R + "/git/commits/{sha}")
    async def get_git_commit(request: Request, owner: str, name: str, sha: str) -> Any:
        api, repo = ctx(request, owner, name)
        if sha not in repo.commits:
            raise ApiError(404, "Not Found")
        return shapes.git_commit_json(api, repo, sha)

    @router.post(R + "/git/commits", status_code=201)
    async def create_git_commit(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        with state.lock:
            tree = repo.trees.get(str(body.get("tree")))
            parents = [str(p) for p in body.get("parents") or []]
            if tree is None or any(p not in repo.commits for p in parents):
                raise ApiError(422, "Tree SHA does not exist")
            sha = repo.make_commit(tree, parents, str(body.get("message") or ""))
        return shapes.git_commit_json(api, repo, sha)

    @router.get(R + "/git/trees/{sha}")
    async def get_git_tree(request: Request, owner: str, name: str, sha: str) -> Any:
        api, repo = ctx(request, owner, name)
        recursive = request.query_params.get("recursive") not in (None, "", "0", "false")
        with state.lock:
            if sha not in repo.trees:  # a commit or a branch names its tree
                sha = repo.tree_sha(repo.commits[repo.resolve(sha)].tree)
            return shapes.git_tree_json(api, repo, sha, recursive=recursive)

    @router.post(R + "/git/trees", status_code=201)
    async def create_git_tree(request: Request, owner: str, name: str) -> Any:
        api, repo = ctx(request, owner, name)
        body = await request.json()
        with state.lock:
            base = body.get("base_tree")
            if base is not None and base not in repo.trees:
                raise ApiError(422, "base_tree is not a valid tree")
            files = dict(repo.trees[base]) if base else {}
            for item in body.get("tree") or []:
                path = str(item["path"])
                if item.get("content") is not None:
                    files[path] = repo.put_blob(str(item["content"]).encode())
                elif item.get("sha") is None:
                    files.pop(path, None)
                elif item["sha"] in repo.blobs:
                    files[path] = item["sha"]
                else:
                    raise ApiError(422, f"tree.sha {item['sha']} is not a valid blob")
            sha = repo.tree_sha(files)
        return shapes.git_tree_json(api, repo, sha, recursive=False)

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
            "commit": shapes.git_commit_json(api, repo, sha),
        }
        return JSONResponse(doc, status_code=201 if current is None else 200)

    return router
