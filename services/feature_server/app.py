"""The FastAPI app: Feast's routes plus service endpoints (docs/feature-server.md).

Routes:

* ``POST /get-online-features``: Feast's request and response (served by the fast lane).
* Feast's ``GET /health``, ``POST /push``, ``/write-to-online-store``, ``/materialize`` and
  ``/materialize-incremental`` (``services.feature_server.routes``; writes gated by the
  source's expectation suite).
* ``GET /v1/feature-services``: services the caller's key may read, with their features,
  entity columns and request fields.
* ``GET /healthz`` (liveness), ``GET /readyz`` (registry loaded and the table of every
  servable view answering, else 503), ``GET /metrics`` (Prometheus), ``/docs`` and
  ``/openapi.json``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from feature_store.repo import FeatureRepo
from services.feature_server.auth import ApiKeyStore, may_read
from services.feature_server.errors import ApiError, StoreUnavailableError
from services.feature_server.fastlane import REQUEST_ID_KEY, FastLane, read_body
from services.feature_server.metrics import FLUSH_SECONDS, Metrics
from services.feature_server.registry import RegistryWatcher, Snapshot
from services.feature_server.routes import add_routes
from services.feature_server.schemas import (
    ERROR_RESPONSES,
    FeatureServiceInfo,
    FeatureServicesResponse,
    GetOnlineFeaturesRequest,
    GetOnlineFeaturesResponse,
    HealthResponse,
    ReadyResponse,
    RegistryStatus,
    StoreStatus,
)
from services.feature_server.service import (
    ONLINE_ROUTE,
    ServerState,
    error_body,
    error_reply,
    handle_online,
)
from services.feature_server.settings import ServerSettings
from services.feature_server.stores import open_reader
from services.feature_server.writes import Validators

logger = logging.getLogger(__name__)


def build_state(settings: ServerSettings) -> ServerState:
    """Load the repo config, API keys and store reader (no I/O against the store yet).

    Raises:
        ServerConfigError: Invalid repo config, unsupported online store or bad API keys file.
    """
    repo = FeatureRepo(path=settings.feature_repo.resolve(), env=settings.feature_env)
    config = repo.config
    keys = ApiKeyStore(settings.api_keys_file)
    watcher = RegistryWatcher(
        store_factory=repo.open_store,
        interval=settings.registry_refresh_seconds,
        on_refresh=keys.reload_if_changed,
    )

    def registry_age() -> float:
        return -1.0 if watcher.last_success is None else time.monotonic() - watcher.last_success

    return ServerState(
        settings=settings,
        config=config,
        watcher=watcher,
        reader=open_reader(
            config,
            timeout=settings.store_timeout_seconds,
            sqlite_cache_entries=settings.sqlite_cache_entries,
        ),
        keys=keys,
        metrics=Metrics(registry_age=registry_age),
        key_version=int(config.entity_key_serialization_version),
        validators=Validators(repo=repo.path),
    )


def create_app(settings: ServerSettings) -> FastAPI:
    """Build the feature service app.

    Its lifespan loads the registry and starts the refresh thread.

    Raises:
        ServerConfigError: Invalid repo config, unsupported online store or bad API keys file.
    """
    state = build_state(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(state.watcher.refresh)
        # Everything loaded so far (Feast, the registry, the app) lives as long as the process:
        # keep it out of the collector's full scans, which otherwise stall requests.
        gc.collect()
        gc.freeze()
        state.watcher.start()
        flusher = asyncio.create_task(_flush_metrics(state.metrics))
        fresh = asyncio.create_task(
            state.freshness.run(
                state.watcher, state.reader, every=settings.freshness_refresh_seconds
            )
        )
        try:
            yield
        finally:
            flusher.cancel()
            fresh.cancel()
            state.metrics.flush()
            state.watcher.stop()
            await state.reader.close()

    app = FastAPI(
        title="Slipway feature service",
        summary="Feast-compatible online features over HTTP",
        version="1",
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
        responses={500: ERROR_RESPONSES[500]},
    )
    app.state.slipway = state
    state.metrics.add_collector(state.freshness)
    app.add_middleware(FastLane, state=state)
    _add_error_handlers(app)
    _add_routes(app, state)
    add_routes(app, state)
    if state.keys.enabled:
        _document_auth(app)
    return app


async def _flush_metrics(metrics: Metrics) -> None:
    """Flush request tallies every second.

    An idle worker's last requests then reach the shared multiprocess files (and so
    ``/metrics`` on any worker) without waiting for more traffic.
    """
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        metrics.flush()


_SECURED = (ONLINE_ROUTE, "/v1/feature-services")


def _document_auth(app: FastAPI) -> None:
    """Declare the API key schemes in the OpenAPI schema (only when auth is on)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
            for path in _SECURED:
                for operation in schema["paths"].get(path, {}).values():
                    operation["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _rid(request: Request) -> str:
    return str(request.scope.get(REQUEST_ID_KEY, "-"))


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _json(exc.status_code, error_body(str(exc.detail), code, _rid(request)))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        detail = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]
        return _json(422, error_body(detail, "invalid_request", _rid(request)))

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def _service_info(snapshot: Snapshot, name: str) -> FeatureServiceInfo:
    spec = snapshot.services[name]
    entities: list[str] = []
    request_fields: list[str] = []
    for p in spec.projections:
        view = snapshot.views.get(p.view)
        sources = [view] if view is not None else []
        odfv = snapshot.odfvs.get(p.view)
        if odfv is not None:
            sources = [snapshot.views[s] for s, _ in odfv.sources if s in snapshot.views]
            request_fields.extend(f for f in odfv.request_fields if f not in request_fields)
        for source in sources:
            if source.entityless:
                continue
            for key in source.join_keys:
                column = p.join_key_map.get(key, key)
                if column not in entities:
                    entities.append(column)
    return FeatureServiceInfo(
        name=spec.name,
        description=spec.description,
        features=list(spec.refs),
        entities=entities,
        request_fields=request_fields,
    )


_PROBE_SECONDS = 1.0


async def _store_problem(state: ServerState, snapshot: Snapshot) -> str | None:
    """Why the store cannot serve every servable view now, or None (cached for a second).

    Every servable view's table is read (``OnlineStoreReader.probe``), so a truncated or
    replaced database is not ready even though it opens.
    """
    now = time.monotonic()
    cached = state.readiness
    if cached is not None and now - cached[0] < _PROBE_SECONDS and cached[2] == snapshot.digest:
        return cached[1]
    views = [v for v in snapshot.views.values() if v.unservable is None]
    problem: str | None = None
    try:
        await state.reader.probe(views)
    except StoreUnavailableError as exc:
        problem = str(exc)
    state.readiness = (time.monotonic(), problem, snapshot.digest)
    return problem


def _add_routes(app: FastAPI, state: ServerState) -> None:
    request_schema = GetOnlineFeaturesRequest.model_json_schema()

    @app.post(
        ONLINE_ROUTE,
        response_model=GetOnlineFeaturesResponse,
        responses=ERROR_RESPONSES,
        summary="Read online features (Feast-compatible)",
        tags=["features"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema}},
            }
        },
    )
    async def get_online_features(request: Request) -> Response:
        """Feast's online read: same request body, same column-oriented response."""
        rid = _rid(request)

        async def body() -> bytes:
            return await read_body(
                request.scope, request.receive, limit=state.settings.max_body_bytes
            )

        reply = await handle_online(
            state, headers=request.scope["headers"], body=body, request_id=rid
        )
        return _json(
            reply.status, reply.body, dict((k.decode(), v.decode()) for k, v in reply.headers)
        )

    @app.get(
        "/v1/feature-services",
        response_model=FeatureServicesResponse,
        responses={k: ERROR_RESPONSES[k] for k in (401, 503)},
        summary="Feature services the caller may read",
        tags=["features"],
    )
    async def feature_services(request: Request) -> Response:
        """List feature services (filtered to the API key's scope) with what they need."""
        try:
            key = state.keys.authenticate(request.scope["headers"])
            snapshot = state.watcher.snapshot
            if snapshot is None:
                raise ApiError(
                    "feature registry not loaded yet", status=503, code="registry_unavailable"
                )
        except ApiError as exc:
            reply = error_reply(exc, _rid(request))
            return _json(
                reply.status, reply.body, {k.decode(): v.decode() for k, v in reply.headers}
            )
        infos = [_service_info(snapshot, n) for n in sorted(snapshot.services) if may_read(key, n)]
        return _json(
            200, FeatureServicesResponse(feature_services=infos).model_dump_json().encode()
        )

    @app.get("/healthz", response_model=HealthResponse, summary="Liveness", tags=["ops"])
    async def healthz() -> dict[str, Any]:
        """The process is up and serving HTTP."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=ReadyResponse,
        responses={503: {"model": ReadyResponse, "description": "Not ready."}},
        summary="Readiness: registry loaded and online store answering",
        tags=["ops"],
    )
    async def readyz() -> Response:
        """Ready when the registry snapshot is loaded and the online store answers."""
        watcher = state.watcher
        snapshot = watcher.snapshot
        age = None if watcher.last_success is None else time.monotonic() - watcher.last_success
        store_error = None if snapshot is None else await _store_problem(state, snapshot)
        ready = snapshot is not None and store_error is None
        body = ReadyResponse(
            status="ready" if ready else "not_ready",
            registry=RegistryStatus(
                loaded=snapshot is not None,
                age_seconds=None if age is None else round(age, 3),
                last_error=watcher.last_error,
                feature_services=0 if snapshot is None else len(snapshot.services),
            ),
            online_store=StoreStatus(
                type=state.reader.kind, ok=store_error is None, error=store_error
            ),
            auth="enabled" if state.keys.enabled else "disabled",
        )
        return _json(200 if ready else 503, body.model_dump_json().encode())

    @app.get("/metrics", summary="Prometheus metrics", tags=["ops"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus exposition text."""
        return Response(state.metrics.render(), media_type=state.metrics.content_type)
