"""Stand-in inference server with the contract of ``python -m services.inference``.

Used by the deploy tests until (or instead of) the real server: ``--bundle DIR --host H --port N``;
``GET /ping`` (200 once loaded), ``GET /metadata``, ``POST /invocations`` with
``{"instances": [...]}`` answering ``{"predictions": [{"probability", "label"}], "model": {...}}``.
Standard library plus the bundle loader.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from model_bundle.bundle import bundle_digest, load_bundle


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-ref", default="")
    args = parser.parse_args()
    bundle = load_bundle(directory=args.bundle)
    digest = bundle_digest(directory=args.bundle)
    meta = bundle.metadata
    ref = args.model_ref or f"{meta.get('model_name', 'model')}:{meta.get('version', '?')}"
    # STANDIN_FAIL_SEEDS=3 makes bundles of seed 3 answer 500 to every STANDIN_FAIL_EVERY-th
    # invocation (default every one): a version that fails its bake, not its smoke tests
    seeds = {s for s in os.environ.get("STANDIN_FAIL_SEEDS", "").split(",") if s}
    failing = (
        int(os.environ.get("STANDIN_FAIL_EVERY", "1")) if str(meta.get("seed")) in seeds else 0
    )

    import pandas as pd

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._send(200, {"status": "ok"})
            elif self.path == "/metadata":
                self._send(
                    200,
                    {
                        "features": bundle.features,
                        "threshold": bundle.threshold,
                        "model": {"ref": ref, "digest": digest},
                    },
                )
            else:
                self._send(404, {"error": "not_found", "message": self.path})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != "/invocations":
                self._send(404, {"error": "not_found", "message": self.path})
                return
            if failing and (self.server.answered.__next__() % failing) == 0:
                self._send(500, {"error": "internal", "message": "stand-in failure"})
                return
            try:
                rows = json.loads(raw)["instances"]
                frame = pd.DataFrame([{f: r[f] for f in bundle.features} for r in rows])
                probs = bundle.estimator.predict_proba(frame)[:, 1]
            except (KeyError, ValueError, TypeError) as exc:
                self._send(422, {"error": "bad_request", "message": str(exc)})
                return
            preds = [{"probability": float(p), "label": int(p >= bundle.threshold)} for p in probs]
            self._send(200, {"predictions": preds, "model": {"ref": ref, "digest": digest}})

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.answered = itertools.count(1)  # type: ignore[attr-defined]

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever(poll_interval=0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
