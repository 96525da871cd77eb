"""The inference server: SageMaker's container contract (``/ping``, ``/invocations``) over FastAPI.

Endpoints:

* ``GET /ping``: 200 once the model is loaded (SageMaker's health check).
* ``POST /invocations``: score ``application/json`` or ``text/csv`` (see
  :mod:`services.inference.payload`); answers in the request's format unless ``Accept`` asks for
  the other one. JSON answers ``{"predictions": [...], "model": {"ref": ..., "digest": ...}}``
  with one object per row in the model's task shape (binary ``{"probability": p, "label": l}``,
  multiclass ``{"probabilities": {...}, "label": l}``, regression ``{"prediction": v}``: see
  :meth:`services.inference.predictor.Scores.records`); CSV answers one line per row
  (:meth:`~services.inference.predictor.Scores.csv_body`).
  Every answer carries ``X-Model-Ref`` and ``X-Model-Digest`` headers.
  ``?explain=true`` (JSON answers only) adds ``"explanation"``: the SHAP contributions of each
  row, the ``explain_top`` largest (default 5, at most 20) per explained output (see
  :meth:`services.inference.predictor.Predictor.explain`). The cost is bounded: at most
  ``MAX_EXPLAIN_ROWS`` (100) rows per request (a 422 above); tree models use TreeExplainer
  (about a millisecond per row), other models the permutation method against at most 32
  background rows with 8 feature orders (``8 * 32 * (features + 1)`` model evaluations per
  row). Explained requests are always scored in a worker thread.
* ``GET /metadata``: features (order and types), threshold, model ref and digest.
* ``GET /healthz``: liveness. ``GET /execution-parameters``: SageMaker batch transform hints.

Data capture (optional, ``capture=``): every successful ``/invocations`` request and its
answer are offered to a :class:`model_monitor.writer.CaptureWriter`, which samples, queues and
writes SageMaker capture records from a background thread; the caller's
``X-Amzn-SageMaker-Inference-Id`` header becomes the record's ``inferenceId``. Capture never
fails or delays a prediction beyond an enqueue; its counts are shown by ``/metadata`` and the
writer is flushed and closed when the app shuts down.

Errors are JSON ``{"error": code, "message": ..., "details": {...}}``: 400 malformed body or CSV
shape, 406 unsupported ``Accept``, 413 body over the limit (6 MB by default, like SageMaker), 415
unsupported content type, 422 content the model cannot score. A 500 never carries exception text;
the traceback goes to the server log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import ServerConfigError
from services.inference.errors import RequestError
from services.inference.payload import parse_csv, parse_json
from services.inference.predictor import Predictor

if TYPE_CHECKING:
    from model_monitor.writer import CaptureWriter

logger = logging.getLogger(__name__)

JSON: Final = "application/json"
CSV: Final = "text/csv"
CONTENT_TYPES: Final = (JSON, CSV)
DEFAULT_MAX_BODY_BYTES: Final = 6 * 1024 * 1024
"""SageMaker real-time endpoints refuse payloads over 6 MB; the server does the same."""

MAX_EXPLAIN_ROWS: Final = 100
"""Most rows one ``/invocations?explain=true`` request may explain."""
MAX_EXPLAIN_TOP: Final = 20
"""Most contributions per row and output an explained answer lists."""
DEFAULT_EXPLAIN_TOP: Final = 5

_INLINE_BYTES: Final = 64 * 1024
"""Bodies up to this size are scored on the event loop; larger ones in a worker thread."""
INFERENCE_ID_HEADER: Final = "x-amzn-sagemaker-inference-id"
"""The caller's id for a request (SageMaker's ``InferenceId``), recorded in captured records."""
MAX_INFERENCE_ID: Final = 256
"""Longest inference id recorded; longer header values are cut to this many characters."""
_INTERNAL_ERROR: Final = {
    "error": "internal_error",
    "message": "the server failed to handle the request; see the server log",
    "details": {},
}


def create_inference_app(
    *,
    bundle_dir: Path,
    model_ref: str = "",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    capture: CaptureWriter | None = None,
) -> FastAPI:
    """Load a model bundle and build the app serving it.

    Args:
        bundle_dir: Folder holding ``model.joblib`` and ``bundle.json``.
        model_ref: Model reference shown to callers, e.g. ``driver_ranking:3`` (defaults to the
            bundle metadata's ``model_ref`` or ``model_name:version``, else empty).
        max_body_bytes: Largest accepted request body; larger ones get a 413.
        capture: Data capture writer; the app closes it on shutdown. None: no capture.

    Returns:
        The FastAPI app (the model is loaded and warmed up, so ``/ping`` answers 200).

    Raises:
        BundleError: The bundle is missing, unreadable or unusable.
        ServerConfigError: ``max_body_bytes`` is not positive.
    """
    if max_body_bytes <= 0:
        raise ServerConfigError(f"max_body_bytes must be positive, got {max_body_bytes}")
    predictor = Predictor.load(bundle_dir=bundle_dir, model_ref=model_ref)
    logger.info(
        "loaded model %s (%s): %d features, threshold %s",
        predictor.ref or "(no ref)",
        predictor.digest,
        len(predictor.schema.features),
        predictor.threshold,
    )
    return _build_app(predictor=predictor, max_body_bytes=max_body_bytes, capture=capture)


def _build_app(
    *, predictor: Predictor, max_body_bytes: int, capture: CaptureWriter | None
) -> FastAPI:
    """Wire the routes and error handlers around a loaded predictor."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if capture is not None:
            stats = capture.close()
            logger.info("data capture closed: %s", stats.to_json())

    app = FastAPI(
        title="Slipway inference",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.predictor = predictor
    app.state.capture = capture
    identity = {"ref": predictor.ref, "digest": predictor.digest}
    identity_json = orjson.dumps(identity)
    model_headers = {
        "X-Model-Ref": _header_value(predictor.ref),
        "X-Model-Digest": predictor.digest,
    }

    def score(
        body: bytes, content_type: str, answer_type: str, explain_top: int | None = None
    ) -> Response:
        parse = parse_json if content_type == JSON else parse_csv
        batch = parse(body, schema=predictor.schema)
        scores = predictor.predict(batch)
        if answer_type == CSV:
            return Response(scores.csv_body(), media_type=CSV, headers=model_headers)
        predictions = orjson.dumps(scores.records())
        if explain_top is None:
            content = b'{"predictions":%s,"model":%s}' % (predictions, identity_json)
        else:
            if batch.rows > MAX_EXPLAIN_ROWS:
                raise RequestError(
                    f"explain=true explains at most {MAX_EXPLAIN_ROWS} rows per request, got "
                    f"{batch.rows}; send fewer rows",
                    status=422,
                    code="too_many_rows_to_explain",
                    details={"max_rows": MAX_EXPLAIN_ROWS, "rows": batch.rows},
                )
            explained = orjson.dumps(predictor.explain(batch, top=explain_top))
            content = b'{"predictions":%s,"explanation":%s,"model":%s}' % (
                predictions, explained, identity_json,
            )  # fmt: skip
        return Response(content, media_type=JSON, headers=model_headers)

    @app.get("/ping")
    async def ping() -> Response:
        """SageMaker health check: 200 once the model is loaded."""
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/healthz")
    async def healthz() -> Response:
        """Liveness probe with the served model's identity."""
        return _json({"status": "ok", "model": identity})

    @app.get("/metadata")
    async def metadata() -> Response:
        """Features, threshold and identity of the served model."""
        described = predictor.describe()
        described.update(
            content_types=list(CONTENT_TYPES),
            max_body_bytes=max_body_bytes,
            capture=_capture_state(capture),
        )
        return _json(described)

    @app.get("/execution-parameters")
    async def execution_parameters() -> Response:
        """SageMaker batch transform hints: one request at a time, many records per request."""
        return _json(
            {
                "MaxConcurrentTransforms": 1,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, max_body_bytes // (1024 * 1024)),
            }
        )

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        """Score JSON or CSV rows (SageMaker's inference request)."""
        started = time.time()
        raw_type = request.headers.get("content-type") or ""
        content_type = _media_type(raw_type)
        if content_type not in CONTENT_TYPES:
            raise RequestError(
                f"unsupported content type {content_type or '(none)'!r}; "
                f"send {' or '.join(CONTENT_TYPES)}",
                status=415,
                code="unsupported_media_type",
                details={"supported": list(CONTENT_TYPES)},
            )
        answer_type = _negotiate(request.headers.get("accept"), default=content_type)
        explain_top = _explain_top(request.query_params, answer_type=answer_type)
        body = await _read_body(request, limit=max_body_bytes)
        try:
            if len(body) <= _INLINE_BYTES and explain_top is None:
                answer = score(body, content_type, answer_type)
            else:
                answer = await run_in_threadpool(
                    score, body, content_type, answer_type, explain_top
                )
        except RequestError:
            raise
        except Exception:
            logger.exception("scoring failed (%s, %d bytes)", content_type, len(body))
            return _json(_INTERNAL_ERROR, status=500)
        if capture is not None:
            inference_id = request.headers.get(INFERENCE_ID_HEADER) or None
            capture.capture(
                input_body=body,
                input_type=raw_type,
                output_body=bytes(answer.body),
                output_type=answer.media_type or answer_type,
                inference_id=inference_id[:MAX_INFERENCE_ID] if inference_id else None,
                at=started,
            )
        return answer

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> Response:
        return _json(exc.body(), status=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return _json(
            {"error": code, "message": message, "details": {}},
            status=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        logger.error("unhandled error on %s", request.url.path, exc_info=exc)
        return _json(_INTERNAL_ERROR, status=500)

    return app


async def _read_body(request: Request, *, limit: int) -> bytes:
    """Read the body, refusing (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> RequestError:
    """The 413 error for a body over the limit."""
    return RequestError(
        f"the request body is larger than {limit} bytes; send fewer rows per request",
        status=413,
        code="payload_too_large",
        details={"max_body_bytes": limit},
    )


def _media_type(header: str | None) -> str:
    """The media type of a Content-Type or Accept item, without parameters, lower case."""
    return header.split(";", 1)[0].strip().lower() if header else ""


def _negotiate(accept: str | None, *, default: str) -> str:
    """Pick the answer format from ``Accept`` (first supported type listed wins)."""
    if not accept:
        return default
    for item in accept.split(","):
        media = _media_type(item)
        if media in ("", "*/*"):
            return default
        if media in CONTENT_TYPES:
            return media
        if media in ("application/*", "text/*"):
            return JSON if media == "application/*" else CSV
    raise RequestError(
        f"cannot answer in {accept!r}; accepted: {' or '.join(CONTENT_TYPES)}",
        status=406,
        code="not_acceptable",
        details={"supported": list(CONTENT_TYPES)},
    )


def _explain_top(query: Mapping[str, str], *, answer_type: str) -> int | None:
    """How many contributions ``?explain=true`` asks for (``explain_top``), or None."""
    flag = (query.get("explain") or "").lower()
    if flag in ("", "false", "0", "no"):
        return None
    if flag not in ("true", "1", "yes"):
        raise RequestError(
            f"explain must be true or false, got {flag[:20]!r}", status=400, code="bad_query"
        )
    if answer_type != JSON:
        raise RequestError(
            "explain=true answers JSON only; send Accept: application/json",
            status=406,
            code="not_acceptable",
            details={"supported": [JSON]},
        )
    raw = query.get("explain_top") or str(DEFAULT_EXPLAIN_TOP)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_EXPLAIN_TOP:
        raise RequestError(
            f"explain_top must be a whole number from 1 to {MAX_EXPLAIN_TOP}, got {raw[:20]!r}",
            status=400,
            code="bad_query",
        )
    return int(raw)


def _capture_state(capture: CaptureWriter | None) -> dict[str, Any]:
    """What ``/metadata`` says about data capture."""
    if capture is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "destination": str(capture.root),
        "sampling_percentage": capture.sampling_percentage,
        "stats": capture.stats().to_json(),
    }


def _json(content: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response serialised with orjson."""
    return Response(orjson.dumps(content), status_code=status, media_type=JSON, headers=headers)


def _header_value(value: str) -> str:
    """Make a string safe as an HTTP header value (printable ASCII only)."""
    return "".join(c if " " <= c <= "~" else "?" for c in value)
