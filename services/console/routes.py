"""The console's pages (GET only; each reads through one request's :class:`Readers`).

Handlers are plain functions: FastAPI runs them in its thread pool, so a slow forge or git
call never blocks the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse
from starlette.requests import Request

from services.console import catalog
from services.console.app import render
from services.console.errors import PageNotFoundError
from services.console.features import now_utc
from services.console.matrix import build_matrix
from services.console.promotions import env_history, open_promotions, other_slipway_prs
from services.console.readers import Readers

router = APIRouter()


def _readers(request: Request) -> Readers:
    return Readers(request.app.state.context)


@router.get("/", response_class=HTMLResponse)
def matrix_page(request: Request) -> HTMLResponse:
    """Environments x models: version, desired vs live, health, last promotion, monitoring."""
    readers = _readers(request)
    matrix = build_matrix(readers)
    ttl = readers.context.console.status_ttl
    return render(request, "matrix.html", page="matrix", matrix=matrix, ttl=ttl)


@router.get("/environments/{env}", response_class=HTMLResponse)
def environment_page(request: Request, env: str) -> HTMLResponse:
    """One environment: each deployment's status in full, and its history with revert paths."""
    readers = _readers(request)
    if env not in readers.environments:
        raise PageNotFoundError(f"no environment named {env!r}")
    matrix = build_matrix(readers, env=env)
    cells = [matrix.cells[(m, env)] for m in matrix.models if (m, env) in matrix.cells]
    history = env_history(readers, env)
    upstream = readers.upstream(env)
    ahead = {}
    if upstream is not None:
        for cell in cells:
            theirs = readers.desired_version(f"{upstream}/{cell.model}")
            if theirs is not None and theirs != readers.desired_version(cell.key):
                ahead[cell.model] = theirs
    return render(
        request, "environment.html", page="matrix", env=env, cells=cells, history=history,
        upstream=upstream, ahead=ahead,
    )  # fmt: skip


@router.get("/promotions", response_class=HTMLResponse)
def promotions_page(request: Request) -> HTMLResponse:
    """Open promotion pull requests (statuses), and links to each environment's history."""
    readers = _readers(request)
    return render(
        request,
        "promotions.html",
        page="promotions",
        promotions=open_promotions(readers, plans=False),
        others=other_slipway_prs(readers),
        environments=readers.environments,
    )


@router.get("/promotions/{number}", response_class=HTMLResponse)
def promotion_page(request: Request, number: int) -> HTMLResponse:
    """One promotion pull request: its plan (the sticky comment), statuses and approvals."""
    readers = _readers(request)
    for promotion in open_promotions(readers):
        if promotion.pr.number == number:
            return render(request, "promotion.html", page="promotions", promotion=promotion)
    raise PageNotFoundError(f"no open promotion pull request #{number}")


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request) -> HTMLResponse:
    """Every registered model and the version each environment's manifest names.

    No version record is read here (a registry of thousands stays fast): the model's page
    lists its versions.
    """
    readers = _readers(request)
    named: dict[str, dict[str, int | None]] = {}
    for key in readers.deployments:
        env, _, model = key.partition("/")
        named.setdefault(model, {})[env] = readers.desired_version(key)
    models = sorted(set(readers.context.registry_models(readers.registry)) | set(named))
    rows = [{"model": m, "deployed": named.get(m, {})} for m in models]
    return render(
        request, "models.html", page="models", rows=rows, environments=readers.environments
    )


@router.get("/models/{model}", response_class=HTMLResponse)
def model_page(request: Request, model: str) -> HTMLResponse:
    """One model's versions, newest first, with a form comparing any two."""
    readers = _readers(request)
    rows = catalog.model_versions(readers, model)
    return render(request, "model.html", page="models", model=model, rows=rows)


@router.get("/models/{model}/versions/{number}", response_class=HTMLResponse)
def version_page(request: Request, model: str, number: int) -> HTMLResponse:
    """One version: status, metrics, lineage, plots, validation and tracking links."""
    readers = _readers(request)
    version = catalog.find_version(readers, model, number)
    run_dir = readers.context.console.run_dir
    return render(
        request,
        "version.html",
        page="models",
        model=model,
        version=version,
        plots=catalog.plots(run_dir, version.run_id),
        tracking=catalog.tracking_url(version),
        data_docs=(readers.context.console.reports_dir / "data_docs" / "index.html").is_file(),
    )


@router.get("/models/{model}/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    model: str,
    a: Annotated[int, Query(ge=1)],
    b: Annotated[int, Query(ge=1)],
) -> HTMLResponse:
    """Version ``b`` against ``a``: metrics side by side with deltas, lineage that changed."""
    readers = _readers(request)
    comparison = catalog.compare(readers, model, a, b)
    run_dir = readers.context.console.run_dir
    return render(
        request,
        "compare.html",
        page="models",
        model=model,
        comparison=comparison,
        plots_a=catalog.plots(run_dir, comparison.a.run_id),
        plots_b=catalog.plots(run_dir, comparison.b.run_id),
    )


@router.get("/runs/{run_id}/plots/{name}")
def plot_file(request: Request, run_id: str, name: str) -> FileResponse:
    """One plot PNG of a build run."""
    path = catalog.plot_path(request.app.state.context.console.run_dir, run_id, name)
    return FileResponse(path, media_type="image/png")


@router.get("/features", response_class=HTMLResponse)
def features_page(request: Request) -> HTMLResponse:
    """Feature views and services, online freshness, materializations, validation results."""
    context = request.app.state.context
    return render(
        request, "features.html", page="features", summary=context.features().summary(),
        now=now_utc(),
    )  # fmt: skip
