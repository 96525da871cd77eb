"""The console's FastAPI app: auth, error pages, templates, static files and the pages.

:func:`create_app` takes the :class:`~services.console.readers.ConsoleContext` and whether a
token is required (any bind beyond localhost). Every response carries a strict
Content-Security-Policy (no inline script, nothing from another origin) and ``no-store``.
Errors become HTML pages that name no internals: a missing thing is a 404 with its one-line
reason, a backing system that fails is a 502 naming only the error's type, anything else a
500; the details go to the server log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from foundation.errors import SlipwayError
from services.console import auth
from services.console.errors import PageNotFoundError
from services.console.readers import ConsoleContext

logger = logging.getLogger("slipway.console")
HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
#: Great Expectations' Data Docs load Bootstrap and Vega from CDNs and run inline scripts: they
#: are served sandboxed (an opaque origin: their scripts cannot read the console's cookie or
#: pages) instead of under the console's policy.
DOCS_CSP = "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox"
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def templates() -> Environment:
    """The Jinja2 environment of the console's templates (autoescaped, strict)."""
    from services.console import filters

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters.install(env)
    return env


def create_app(context: ConsoleContext, *, require_token: bool) -> FastAPI:
    """The console app on ``context``.

    ``require_token``: every page but the login, the stylesheet and ``/healthz`` needs the
    token of ``context.console.token`` (set when bound beyond localhost).

    Raises:
        ConsoleConfigError: A token is required but none is set.
    """
    from services.console.routes import router
    from services.console.settings import check_bind

    if require_token:
        check_bind("0.0.0.0", context.console)  # noqa: S104 - the check, not a bind
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, title="Slipway console")
    app.state.context = context
    app.state.templates = templates()
    app.state.require_token = require_token
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    docs = Path(context.console.reports_dir) / "data_docs"
    app.mount("/data-docs", StaticFiles(directory=docs, check_dir=False, html=True), name="docs")
    app.include_router(router)
    _install_auth(app, context)
    _install_errors(app)
    return app


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Render template ``name`` with ``values`` (and the request) as an HTML response."""
    env: Environment = request.app.state.templates
    html = env.get_template(name).render(request=request, **values)
    return HTMLResponse(html, status_code=status_code)


def _install_auth(app: FastAPI, context: ConsoleContext) -> None:
    expected = context.console.token.get_secret_value() if context.console.token else ""

    @app.middleware("http")
    async def _guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        guarded = app.state.require_token and not auth.is_open(request.url.path)
        if guarded and not auth.token_matches(auth.presented_token(request), expected):
            if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                return _secure(RedirectResponse("/login", status_code=303))
            return _secure(_error_page(request, 401, "a valid token is required"))
        response = await call_next(request)
        if request.url.path.startswith("/data-docs/"):
            response.headers["Content-Security-Policy"] = DOCS_CSP
        return _secure(response)

    @app.get("/login", response_class=HTMLResponse)
    async def _login_form(request: Request) -> Response:
        return render(request, "login.html", failed=False, required=app.state.require_token)

    @app.post("/login", response_class=HTMLResponse)
    async def _login(request: Request) -> Response:
        if not app.state.require_token:
            return RedirectResponse("/", status_code=303)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        if not auth.token_matches(token, expected):
            return render(request, "login.html", status_code=401, failed=True, required=True)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            auth.COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @app.get("/healthz", response_class=PlainTextResponse)
    async def _health() -> str:
        return "ok"


def _secure(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    try:
        return render(request, "error.html", status_code=status, status=status, message=message)
    except Exception:
        logger.exception("the error page could not be rendered")
        return HTMLResponse(f"<!doctype html><title>{status}</title><p>error {status}</p>", status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "no such page", 405: "this page is read-only"}.get(
            exc.status_code, "the request was refused"
        )
        return _secure(_error_page(request, exc.status_code, message))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({str(e.get("loc", ("", "?"))[-1]) for e in exc.errors()})
        return _secure(_error_page(request, 400, f"invalid parameter: {', '.join(fields)}"))

    @app.exception_handler(PageNotFoundError)
    async def _missing(request: Request, exc: PageNotFoundError) -> Response:
        return _secure(_error_page(request, 404, str(exc)))

    @app.exception_handler(SlipwayError)
    async def _backing(request: Request, exc: SlipwayError) -> Response:
        logger.warning("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        text = f"a backing system could not be read ({type(exc).__name__}); see the server log"
        return _secure(_error_page(request, 502, text))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _secure(_error_page(request, 500, "internal error; see the server log"))
