"""Files of the local target under ``<state_dir>/<env>/``: state, routes, logs, bundles.

``target.json`` records the router and the active backend (pid, port, version, manifest hash,
bundle path); ``routes.json`` is what the router reads. Both are replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from model_deploy.errors import TargetError
from model_deploy.targets.processes import request_json

STATE_FILE = "target.json"
ROUTES_FILE = "routes.json"
ROUTER_MODULE = "model_deploy.targets.local_router"


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
        active: The backend taking traffic, if any.
        generation: Last routes generation written.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    router: RouterProcess | None = None
    active: Backend | None = None
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
    def capture(self) -> Path:
        """Data capture file (JSON lines)."""
        return self.root / "capture" / "invocations.jsonl"


def read_state(files: EnvFiles) -> tuple[LocalState, list[str]]:
    """Read ``target.json``; a missing or corrupt file reads as empty (with a note).

    Args:
        files: The environment's files.

    Returns:
        The state and notes about what was wrong with the file.
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
    """Replace ``target.json`` atomically.

    Args:
        files: The environment's files.
        state: The new state.
    """
    _write_atomic(files.state, state.model_dump_json(indent=2) + "\n")


def write_routes(
    files: EnvFiles, *, generation: int, weights: dict[int, float], capture_percentage: int
) -> None:
    """Replace ``routes.json`` atomically (the router picks it up on its next request).

    Args:
        files: The environment's files.
        generation: Increasing number identifying this version of the routes.
        weights: Backend port to weight (0 to 100).
        capture_percentage: Data capture sampling percentage.
    """
    routes = {
        "generation": generation,
        "backends": [
            {"url": f"http://127.0.0.1:{port}", "weight": weight}
            for port, weight in weights.items()
        ],
        "capture": {"percentage": capture_percentage, "path": str(files.capture)},
    }
    _write_atomic(files.routes, json.dumps(routes, indent=2) + "\n")


def wait_router_switched(*, port: int, generation: int, drained: set[int], timeout: float) -> None:
    """Wait until the router uses ``generation`` and has no request in flight on ``drained``.

    Args:
        port: The router's port.
        generation: Routes generation to wait for.
        drained: Backend ports that must have no request in flight.
        timeout: Seconds.

    Raises:
        TargetError: The router did not switch in time.
    """
    urls = {f"http://127.0.0.1:{p}" for p in drained}
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, body = request_json(
                port=port, method="GET", path="/_router/status", timeout=1.0
            )
        except OSError as exc:
            last = exc
        else:
            last = body
            if status == 200 and isinstance(body, dict) and body.get("generation") == generation:
                inflight = body.get("inflight") or {}
                if not any(inflight.get(url) for url in urls):
                    return
        time.sleep(0.02)
    raise TargetError(
        f"the router on port {port} did not switch to routes generation {generation} within "
        f"{timeout:g} s (last status: {last})"
    )


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
