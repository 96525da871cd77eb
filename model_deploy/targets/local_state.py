"""Files of the local target under ``<state_dir>/<env>/``: state, routes, logs, bundles.

``target.json`` records the router, the active backend (pid, port, version, manifest hash,
bundle path) and, while a deploy runs, the candidate backend; ``routes.json`` is what the router
reads. Both are replaced atomically. Every process the target starts carries
``SLIPWAY_LOCAL_TARGET_ROOT=<env folder>`` in its environment, so a process a crashed deploy
started is found even when no file recorded it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from foundation.files import write_text_atomic
from model_deploy.targets.local_capture import CAPTURE_VARIANT
from model_deploy.targets.processes import request_json
from model_deploy.targets.waiting import poll_until

STATE_FILE = "target.json"
ROUTES_FILE = "routes.json"
ROUTER_MODULE = "model_deploy.targets.local_router"
ROOT_VARIABLE = "SLIPWAY_LOCAL_TARGET_ROOT"
"""Environment variable marking every process the local target starts with its env folder."""


class Backend(BaseModel):
    """One inference server process.

    Attributes:
        pid: Process id (and process group id).
        port: Its own port on 127.0.0.1.
        model_name: Model served.
        version: Version served.
        artifact_digest: Digest of its bundle.
        bundle: Bundle folder it serves (also its command line marker).
        manifest_hash: Hash of the manifest it was deployed from.
        git_sha: Commit of the manifest repo.
        strategy: Strategy summary used for the deploy.
        data_capture_percentage: Capture sampling percentage.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    pid: int
    port: int
    model_name: str
    version: int
    artifact_digest: str
    bundle: str
    manifest_hash: str
    git_sha: str = "unknown"
    strategy: str = "all at once"
    data_capture_percentage: int = 0

    @property
    def marker(self) -> str:
        """Command line marker: the bundle path and the port."""
        return f"{self.bundle} --host 127.0.0.1 --port {self.port}"


class RouterProcess(BaseModel):
    """The router process of an environment.

    Attributes:
        pid: Process id.
        port: The stable port.
        routes: Routes file it reads (its command line marker).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    pid: int
    port: int
    routes: str

    @property
    def marker(self) -> str:
        """Command line marker: the module and the routes file."""
        return f"{ROUTER_MODULE} --port {self.port} --routes {self.routes}"


class LocalState(BaseModel):
    """Content of ``target.json``.

    Attributes:
        router: The router, if started.
        active: The backend that takes all traffic once the environment is converged.
        candidate: The new backend of a deploy in progress (it may take part of the traffic).
        candidate_verified: Whether the candidate passed its smoke tests.
        generation: Last routes generation written.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    router: RouterProcess | None = None
    active: Backend | None = None
    candidate: Backend | None = None
    candidate_verified: bool = False
    generation: int = 0


@dataclass(frozen=True)
class EnvFiles:
    """Paths of one environment's local target files."""

    root: Path

    @property
    def state(self) -> Path:
        """``target.json``."""
        return self.root / STATE_FILE

    @property
    def routes(self) -> Path:
        """``routes.json``."""
        return self.root / ROUTES_FILE

    @property
    def logs(self) -> Path:
        """Log folder."""
        return self.root / "logs"

    @property
    def bundles(self) -> Path:
        """Bundle copies folder."""
        return self.root / "bundles"

    @property
    def marker(self) -> str:
        """The value of ``SLIPWAY_LOCAL_TARGET_ROOT`` in this environment's processes."""
        return str(self.root.resolve())

    @property
    def capture(self) -> Path:
        """Data capture root (SageMaker's destination), ``<root>/capture``.

        The router writes ``<capture>/<endpoint>/AllTraffic/yyyy/mm/dd/hh/*.jsonl``.
        """
        return self.root / "capture"

    @property
    def capture_endpoint(self) -> str:
        """The endpoint folder under :attr:`capture`: ``<env>-<name>``.

        For a root ``<state>/<env>/<name>``: what ``slipway monitor`` names a local endpoint.
        """
        return f"{self.root.parent.name}-{self.root.name}"


def read_state(files: EnvFiles) -> tuple[LocalState, list[str]]:
    """Read ``target.json`` and notes on what was wrong with it.

    A missing file reads as empty; an unreadable or corrupt one reads as empty with a note
    (the describe output shows it), so a crash mid-write never blocks the next deploy.
    """
    try:
        text = files.state.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LocalState(), []
    except OSError as exc:
        return LocalState(), [f"cannot read {files.state}: {exc.strerror}"]
    try:
        return LocalState.model_validate_json(text), []
    except ValidationError:
        return LocalState(), [f"{files.state} is corrupt; ignoring it"]


def write_state(files: EnvFiles, state: LocalState) -> None:
    """Replace ``target.json`` atomically."""
    write_text_atomic(files.state, state.model_dump_json(indent=2) + "\n")


def write_routes(
    files: EnvFiles, *, generation: int, weights: dict[int, float], capture_percentage: int
) -> None:
    """Replace ``routes.json`` atomically (the router picks it up on its next request).

    ``generation`` increases with every version of the routes; ``weights`` maps a backend
    port to its weight (0 to 100); the router captures ``capture_percentage`` of the requests
    into :attr:`EnvFiles.capture` (endpoint :attr:`EnvFiles.capture_endpoint`, variant
    ``AllTraffic``).
    """
    routes = {
        "generation": generation,
        "backends": [
            {"url": f"http://127.0.0.1:{port}", "weight": weight}
            for port, weight in weights.items()
        ],
        "capture": {
            "percentage": capture_percentage,
            "destination": str(files.capture),
            "endpoint": files.capture_endpoint,
            "variant": CAPTURE_VARIANT,
        },
    }
    write_text_atomic(files.routes, json.dumps(routes, indent=2) + "\n")


def read_weights(files: EnvFiles) -> dict[int, float]:
    """Backend port to weight as ``routes.json`` says (empty when it is missing or corrupt)."""
    try:
        routes = json.loads(files.routes.read_text(encoding="utf-8"))
        return {
            int(backend["url"].rsplit(":", 1)[1]): float(backend["weight"])
            for backend in routes["backends"]
        }
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return {}


def routes_generation(files: EnvFiles) -> int:
    """The generation ``routes.json`` holds (0 when it is missing or corrupt)."""
    try:
        return int(json.loads(files.routes.read_text(encoding="utf-8"))["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def router_status(port: int, *, timeout: float = 2.0) -> dict[str, Any] | None:
    """The router's own view (``GET /_router/status``): generation, weights, counters, capture.

    None when it does not answer with a JSON object.
    """
    try:
        status, body = request_json(port=port, method="GET", path="/_router/status",
                                    timeout=timeout)  # fmt: skip
    except OSError:
        return None
    return body if status == 200 and isinstance(body, dict) else None


def live_weights(status: dict[str, Any] | None) -> dict[int, float]:
    """Backend port to weight as the router reports it (empty when unknown)."""
    try:
        return {
            int(str(b["url"]).rsplit(":", 1)[1]): float(b["weight"])
            for b in (status or {}).get("backends") or []
        }
    except (KeyError, ValueError, TypeError, IndexError):
        return {}


def backend_identity(port: int) -> tuple[str | None, str | None] | None:
    """``(model ref, digest)`` a backend reports on ``GET /metadata`` (None: no answer)."""
    try:
        status, body = request_json(port=port, method="GET", path="/metadata", timeout=2.0)
    except OSError:
        return None
    if status != 200 or not isinstance(body, dict):
        return None
    nested = body.get("model")
    model: dict[str, Any] = nested if isinstance(nested, dict) else body
    ref, digest = model.get("ref"), model.get("digest")
    return (str(ref) if ref else None, str(digest) if digest else None)


def wait_router_switched(*, port: int, generation: int, drained: set[int], timeout: float) -> None:
    """Wait until the router uses ``generation`` and has no request in flight on ``drained``.

    Raises:
        TargetError: The router did not switch in time (the message holds its last status).
    """
    urls = {f"http://127.0.0.1:{p}" for p in drained}
    last: list[object] = [None]

    def probe() -> bool | None:
        try:
            status, body = request_json(
                port=port, method="GET", path="/_router/status", timeout=1.0
            )
        except OSError as exc:
            last[0] = exc
            return None
        last[0] = body
        if status == 200 and isinstance(body, dict) and body.get("generation") == generation:
            inflight = body.get("inflight") or {}
            if not any(inflight.get(url) for url in urls):
                return True
        return None

    poll_until(
        probe,
        timeout=timeout,
        interval=0.02,
        on_timeout=lambda: (
            f"the router on port {port} did not switch to routes generation {generation} "
            f"within {timeout:g} s (last status: {last[0]})"
        ),
    )
