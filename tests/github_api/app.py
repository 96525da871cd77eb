"""FastAPI app serving :class:`GitHubState` with GitHub's REST paths and error shapes.

Errors answer ``{"message": ..., "documentation_url": ...}`` (PyGithub maps 404 to
``UnknownObjectException`` only with a ``message``). Every call is recorded with its status;
pending faults answer before the route runs, so a faulted call changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from .helpers import error
from .routes_code import code_routes
from .routes_issues import issue_routes
from .routes_pulls import pull_routes
from .state import ApiError, Call, GitHubState


def create_app(state: GitHubState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record_and_fault(request: Request, call_next: Any) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        path = request.url.path
        login = state.login_of(request.headers.get("authorization", ""))
        request.state.login = login
        fault = state.take_fault(request.method, path)
        if login is None:
            response: Response = error(401, "Bad credentials")
        elif fault is not None:
            response = error(fault.status, fault.message, headers=fault.headers)
        else:
            response = await call_next(request)
        state.record(
            Call(request.method, path, dict(request.query_params), body, response.status_code)
        )
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return error(exc.status, exc.message, errors=exc.errors)

    app.include_router(code_routes(state))
    app.include_router(pull_routes(state))
    app.include_router(issue_routes(state))
    return app
