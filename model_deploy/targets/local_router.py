"""The local target's per-environment router: a tiny reverse proxy on the stable port.

Run as ``python -m model_deploy.targets.local_router --port P --routes FILE``. It forwards every
request to a backend picked by weight from the routes file, which it re-reads whenever the file
changes (the deployer replaces it atomically). ``GET /_router/status`` reports the routes
generation it uses, the weights it really uses, the requests in flight per backend and counters per
backend (requests, failures, a latency histogram: what canary bakes check), so the deployer stops
an old backend only once the router has switched and the old backend has no request left: zero
failed requests during a blue/green switch. A connection refused or reset before any answer is
retried on a freshly picked backend (scoring is idempotent).

Data capture (the routes' ``capture.percentage`` above 0): a sampled ``POST /invocations`` that
a backend answered (any status: requests the router refused itself are not captured) becomes
one SageMaker capture record in ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``
(:mod:`model_deploy.targets.local_capture`). The request thread only samples and does a
non-blocking ``put`` on a bounded queue; one daemon thread writes the records in batches. A full
queue drops the record and a failed write loses it: both are counted in the status
(``capture``) and logged once; neither ever fails a request. Standard library only (the router
is its own small process).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from model_deploy.targets.local_capture import (
    CAPTURE_VARIANT,
    INFERENCE_ID_HEADER,
    MAX_INFERENCE_ID,
    CaptureSink,
    CaptureTarget,
)

STATUS_PATH = "/_router/status"
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}
)
_ATTEMPTS = 4
#: Upper bounds (milliseconds) of the latency histogram buckets; the last bucket is unbounded.
LATENCY_BUCKETS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class BackendCounters:
    """Requests, failures and latencies of one backend since the router started."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)

    def record(self, *, failed: bool, seconds: float) -> None:
        """Count one forwarded request (``failed``: a 5xx or no answer)."""
        self.requests += 1
        self.errors += int(failed)
        millis = seconds * 1000
        index = next(
            (i for i, bound in enumerate(LATENCY_BUCKETS_MS) if millis <= bound),
            len(LATENCY_BUCKETS_MS),
        )
        self.buckets[index] += 1

    def as_json(self) -> dict[str, Any]:
        """``{"requests", "errors", "latency_ms": [[upper bound or null, count], ...]}``."""
        bounds: list[float | None] = [*LATENCY_BUCKETS_MS, None]
        return {
            "requests": self.requests,
            "errors": self.errors,
            "latency_ms": [
                [bound, count] for bound, count in zip(bounds, self.buckets, strict=True)
            ],
        }


class Routes:
    """The current routes, reloaded when the routes file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.generation = -1
        self.backends: list[tuple[str, float]] = []
        self.capture_percentage = 0.0
        self.capture: CaptureTarget | None = None
        self.inflight: dict[str, int] = {}
        self.counters: dict[str, BackendCounters] = {}
        self._signature: tuple[int, int, int] | None = None

    def reload(self) -> None:
        """Re-read the routes file if it changed (cheap ``stat`` otherwise)."""
        try:
            info = self.path.stat()
        except OSError:
            return
        signature = (info.st_ino, info.st_mtime_ns, info.st_size)
        if signature == self._signature:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            backends = [(str(b["url"]), float(b["weight"])) for b in data["backends"]]
            generation = int(data["generation"])
            capture = data.get("capture") or {}
        except (OSError, ValueError, KeyError, TypeError):
            return  # half-written or bad file: keep the last good routes
        with self.lock:
            self._signature = signature
            self.generation = generation
            self.backends = [(url, weight) for url, weight in backends if weight > 0]
            self.capture_percentage = float(capture.get("percentage", 0))
            self.capture = _capture_target(capture, self.capture_percentage)

    def acquire(self, *, avoid: str | None = None) -> str | None:
        """Pick a backend by weight and count the request as in flight on it."""
        self.reload()
        with self.lock:
            choices = [(u, w) for u, w in self.backends if u != avoid] or self.backends
            if not choices:
                return None
            total = sum(weight for _, weight in choices)
            point = random.uniform(0, total)
            url = choices[-1][0]
            for candidate, weight in choices:
                point -= weight
                if point <= 0:
                    url = candidate
                    break
            self.inflight[url] = self.inflight.get(url, 0) + 1
            return url

    def release(self, url: str, *, failed: bool, seconds: float) -> None:
        """Count a request to ``url`` as finished (``failed``: a 5xx or no answer)."""
        with self.lock:
            self.inflight[url] = max(0, self.inflight.get(url, 0) - 1)
            self.counters.setdefault(url, BackendCounters()).record(failed=failed, seconds=seconds)

    def status(self) -> dict[str, Any]:
        """Generation, backends, in-flight counts, counters and the capture percentage."""
        self.reload()
        with self.lock:
            return {
                "generation": self.generation,
                "backends": [{"url": u, "weight": w} for u, w in self.backends],
                "inflight": {u: n for u, n in self.inflight.items() if n},
                "counters": {u: c.as_json() for u, c in self.counters.items()},
                "capture": {"percentage": self.capture_percentage},
                "pid": os.getpid(),
            }


def _capture_target(capture: dict[str, Any], percentage: float) -> CaptureTarget | None:
    """The routes' capture settings (None: capture off or no destination)."""
    destination = capture.get("destination")
    if percentage <= 0 or not destination:
        return None
    endpoint = str(capture.get("endpoint") or "local")
    variant = str(capture.get("variant") or CAPTURE_VARIANT)
    return CaptureTarget(percentage, Path(str(destination)), endpoint, variant)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body leave in two writes: with Nagle on, a keep-alive client's delayed ACK
    # held the body back ~40 ms per request
    disable_nagle_algorithm = True
    server: _RouterServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logs (errors are logged explicitly)."""

    def do_GET(self) -> None:
        """Forward a GET (or answer the router status)."""
        if self.path == STATUS_PATH:
            status = self.server.routes.status()
            status["capture"].update(self.server.sink.status())
            self._answer(200, json.dumps(status).encode(), "application/json")
            return
        self._forward()

    def do_POST(self) -> None:
        """Forward a POST."""
        self._forward()

    def _forward(self) -> None:
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        routes = self.server.routes
        failed: str | None = None
        for attempt in range(_ATTEMPTS):
            url = routes.acquire(avoid=failed)
            if url is None:
                break
            started = time.monotonic()
            try:
                status, reply_headers, data = _send(url, self.command, self.path, body, headers)
            except OSError as exc:
                routes.release(url, failed=True, seconds=time.monotonic() - started)
                failed = url
                self.server.log(f"backend {url} failed ({exc}); attempt {attempt + 1}")
                time.sleep(0.05 * (attempt + 1))
                continue
            routes.release(url, failed=status >= 500, seconds=time.monotonic() - started)
            self._answer(status, data, reply_headers.get("content-type"), extra=reply_headers)
            if self.command == "POST" and self.path.partition("?")[0] == "/invocations":
                inference_id = self.headers.get(INFERENCE_ID_HEADER)
                self.server.sink.offer(
                    routes.capture, at=arrived, request=body,
                    request_type=self.headers.get("Content-Type") or "", response=data,
                    response_type=reply_headers.get("content-type") or "",
                    inference_id=inference_id[:MAX_INFERENCE_ID] if inference_id else None,
                )  # fmt: skip
            return
        message = b'{"error": "no_backend", "message": "no healthy backend behind the router"}'
        self._answer(503 if failed is None else 502, message, "application/json")

    def _answer(
        self,
        status: int,
        data: bytes,
        content_type: str | None,
        *,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for key, value in (extra or {}).items():
            if key not in ("content-type", "content-length", "date", "server"):
                self.send_header(key, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _send(
    url: str, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
    except http.client.HTTPException as exc:
        raise OSError(str(exc)) from exc
    finally:
        connection.close()
    reply = {k.lower(): v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
    return response.status, reply, data


class _RouterServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, routes: Routes, *, sink: CaptureSink | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.routes = routes
        self.sink = sink or CaptureSink(log=self.log)

    def log(self, message: str) -> None:
        print(f"{datetime.now(UTC).isoformat()} {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the router (``--port P --routes FILE``) until SIGTERM or SIGINT; the exit code."""
    parser = argparse.ArgumentParser(description="Slipway local target router")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--routes", type=Path, required=True)
    args = parser.parse_args(argv)
    routes = Routes(args.routes)
    routes.reload()
    server = _RouterServer(args.port, routes)

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.log(f"router listening on 127.0.0.1:{args.port}, routes {args.routes}")
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    server.sink.flush(timeout=5.0)
    server.log("router stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
