"""The local target (embedded default): inference processes behind a router, blue/green.

Per environment: a router process on the manifest's stable port forwards to the active backend
(``python -m services.inference --bundle DIR --host 127.0.0.1 --port N``). A deploy starts the new
backend on a spare port (recorded as the candidate in ``target.json`` at once), waits for
``/ping``, runs the smoke tests against it directly, shifts traffic step by step (strategy, each
step announced to the deployer's journal first) while its bake checks the router's counters for
it (error rate, latency), waits until the router has switched and the old backend has no request
in flight, and only then stops the old backend: zero failed requests. Any failure routes back to
the old backend and stops the new one. After a crash, :meth:`LocalTarget.reconcile` puts all
traffic on one backend and stops every process of the environment that is not part of it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from foundation.ports import free_port
from model_deploy.errors import BakeCheckError, DeployError, TargetError
from model_deploy.manifest.checks import BakeChecks
from model_deploy.manifest.model import LocalTargetSpec, Manifest
from model_deploy.targets import processes as proc
from model_deploy.targets.bake import Counters, bake_problem
from model_deploy.targets.local_recovery import reconcile_files
from model_deploy.targets.local_state import (
    ROOT_VARIABLE,
    ROUTER_MODULE,
    Backend,
    EnvFiles,
    LocalState,
    RouterProcess,
    read_state,
    router_status,
    routes_generation,
    wait_router_switched,
    write_routes,
    write_state,
)
from model_deploy.targets.local_view import describe_local
from model_deploy.targets.protocol import (
    ActualState,
    DeployRequest,
    TargetKind,
    Verifier,
    describe_strategy,
)
from model_deploy.targets.traffic import traffic_steps
from model_deploy.targets.waiting import watch_for

_REPO_ROOT = Path(__file__).resolve().parents[2]


class LocalTarget:
    """Serve environments as local processes on 127.0.0.1.

    Each environment uses ``<state_dir>/<env>/``. ``server_command`` starts an inference
    server, before ``--bundle DIR --host 127.0.0.1 --port N`` (default ``python -m
    services.inference``); ``health_timeout`` is how long a new backend has to answer
    ``/ping``, ``switch_timeout`` how long the router has to switch and drain the old backend.
    """

    kind: TargetKind = "local"

    def __init__(
        self,
        *,
        state_dir: Path,
        server_command: Sequence[str] | None = None,
        health_timeout: float = 60.0,
        switch_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.server_command = list(server_command or [sys.executable, "-m", "services.inference"])
        self.health_timeout = health_timeout
        self.switch_timeout = switch_timeout
        self._sleep = sleep

    def describe(self, *, env: str, manifest: Manifest) -> ActualState:
        """Ask the environment's processes what they serve (see :mod:`.local_view`).

        Stale pids, a corrupt state file, a router on another port, a backend serving another
        model than ``target.json`` says, and a traffic split become notes.
        """
        files = self._files(env, create=False)  # reading never writes
        return describe_local(env=env, files=files, spec=self._spec(manifest))

    def deploy(self, *, request: DeployRequest, verify: Verifier) -> ActualState:
        """Blue/green deploy of ``request`` (see the module docstring); ``bundle_dir`` is needed.

        ``verify`` (the smoke tests) runs against the new backend before it takes traffic.

        Raises:
            TargetError: A process failed to start, stay healthy, or the router to switch.
            SmokeTestError: The new backend failed a smoke test.
        """
        if request.bundle_dir is None:
            raise TargetError("the local target needs a local copy of the bundle")
        files = self._files(request.env)
        state, _ = read_state(files)
        blue = state.active
        if blue is not None and not proc.is_running(blue.pid, marker=blue.marker):
            blue = None
        spec = self._spec(request.manifest)
        router = self._ensure_router(files, state=state, blue=blue, port=spec.port)
        generation = max(state.generation, routes_generation(files))
        write_state(files, LocalState(router=router, active=blue, generation=generation))
        green = self._start_backend(files, request=request)
        write_state(
            files, LocalState(router=router, active=blue, candidate=green, generation=generation)
        )
        capture = request.manifest.data_capture.sampling_percentage
        journal = request.journal
        try:
            self._wait_backend(files, green)
            verify(proc.invoker(green.port))
            write_state(
                files,
                LocalState(
                    router=router,
                    active=blue,
                    candidate=green,
                    candidate_verified=True,
                    generation=generation,
                ),
            )
            steps = traffic_steps(request.manifest.strategy, has_previous=blue is not None)
            baseline: Counters | None = None
            for index, step in enumerate(steps, start=1):
                journal.before_step(index=index, total=len(steps), percent=step.percent)
                weights = {green.port: float(step.percent)}
                if blue is not None and step.percent < 100:
                    weights[blue.port] = float(100 - step.percent)
                generation += 1
                write_routes(
                    files, generation=generation, weights=weights, capture_percentage=capture
                )
                wait_router_switched(
                    port=router.port, generation=generation, drained=set(), timeout=30
                )
                journal.after_switch(index=index, total=len(steps), percent=step.percent)
                if baseline is None:
                    baseline = _counters(router.port, green.port)
                self._watch(
                    green,
                    router=router,
                    baseline=baseline,
                    checks=request.manifest.bake,
                    seconds=step.hold_seconds,
                    beat=journal.heartbeat,
                )
            if not proc.ping(router.port):
                raise TargetError(
                    f"the endpoint on port {router.port} fails /ping after the switch"
                )
            journal.finishing()
        except (DeployError, OSError) as exc:
            generation += 1
            self._route_back(files, router=router, blue=blue, green=green, generation=generation)
            write_state(files, LocalState(router=router, active=blue, generation=generation))
            if isinstance(exc, OSError):
                raise TargetError(f"local deploy failed: {exc}") from exc
            raise
        write_state(files, LocalState(router=router, active=green, generation=generation))
        if blue is not None:
            wait_router_switched(
                port=router.port,
                generation=generation,
                drained={blue.port},
                timeout=self.switch_timeout,
            )
            proc.stop(blue.pid, marker=blue.marker)
        return self.describe(env=request.env, manifest=request.manifest)

    def health(self, *, env: str, manifest: Manifest) -> bool:
        """Whether the environment answers ``/ping`` with 200 through its router."""
        return proc.ping(self._spec(manifest).port)

    def invoke(
        self, *, env: str, manifest: Manifest, instances: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Score rows through the router (what clients call).

        Raises:
            TargetError: Nothing listens on the port, or the endpoint refused the request.
        """
        return proc.invoker(self._spec(manifest).port)(instances)

    def rollback(self, *, env: str, manifest: Manifest, previous: ActualState) -> ActualState:
        """Return to ``previous`` (a failed deploy already routes back by itself).

        Raises:
            TargetError: The previous backend's process is gone (a redeploy is needed).
        """
        if not previous.deployed:
            self.stop(env=env, manifest=manifest)
            return self.describe(env=env, manifest=manifest)
        if not previous.healthy:
            return self.describe(env=env, manifest=manifest)  # nothing healthy to go back to
        files = self._files(env)
        state, _ = read_state(files)
        active = state.active
        if (
            active is not None
            and str(active.pid) == previous.details.get("backend_pid")
            and proc.is_running(active.pid, marker=active.marker)
        ):
            return self.describe(env=env, manifest=manifest)
        raise TargetError(
            f"{env}: cannot return to {previous.model_ref}: its process is gone; "
            "run `slipway deploy rollback` to redeploy it"
        )

    def stop(self, *, env: str, manifest: Manifest) -> None:
        """Stop the environment's backend and router and clear its state."""
        files = self._files(env)
        state, _ = read_state(files)
        for backend in (state.candidate, state.active):
            if backend is not None:
                proc.stop(backend.pid, marker=backend.marker)
        if state.router is not None:
            proc.stop(state.router.pid, marker=state.router.marker)
        for group in proc.marked_groups(variable=ROOT_VARIABLE, value=files.marker):
            proc.stop_group(group, variable=ROOT_VARIABLE, value=files.marker)
        write_routes(files, generation=state.generation + 1, weights={}, capture_percentage=0)
        write_state(files, LocalState(generation=state.generation + 1))

    def reconcile(self, *, env: str, manifest: Manifest) -> ActualState:
        """Put all traffic on one backend and stop every other process of the environment.

        See :func:`model_deploy.targets.local_recovery.reconcile_files`.
        """
        reconcile_files(self._files(env), switch_timeout=self.switch_timeout)
        return self.describe(env=env, manifest=manifest)

    # -- helpers -------------------------------------------------------------------------------

    def _files(self, env: str, *, create: bool = True) -> EnvFiles:
        root = self.state_dir / env
        if create:
            root.mkdir(parents=True, exist_ok=True)
        return EnvFiles(root)

    @staticmethod
    def _spec(manifest: Manifest) -> LocalTargetSpec:
        if not isinstance(manifest.target, LocalTargetSpec):
            raise TargetError(f"{manifest.environment}: the manifest's target is not local")
        return manifest.target

    def _ensure_router(
        self, files: EnvFiles, *, state: LocalState, blue: Backend | None, port: int
    ) -> RouterProcess:
        router = state.router
        if router is not None and proc.is_running(router.pid, marker=router.marker):
            if router.port == port:
                return router
            proc.stop(router.pid, marker=router.marker)
        if not proc.port_is_free(port):
            raise TargetError(
                f"port {port} on 127.0.0.1 is in use by another process; stop it or change "
                "target.port in the manifest"
            )
        weights = {blue.port: 100.0} if blue is not None else {}
        write_routes(
            files,
            generation=max(state.generation, routes_generation(files)),
            weights=weights,
            capture_percentage=blue.data_capture_percentage if blue else 0,
        )
        command = [sys.executable, "-m", ROUTER_MODULE, "--port", str(port)]
        command += ["--routes", str(files.routes)]
        log = files.logs / "router.log"
        pid = proc.spawn(command=command, log_path=log, env=_child_env(files))
        router = RouterProcess(pid=pid, port=port, routes=str(files.routes))
        try:
            proc.wait_ready(
                port=port, path="/_router/status", pid=pid, marker=router.marker, timeout=15,
                log_path=log,
            )  # fmt: skip
        except TargetError:
            proc.stop(pid, marker=router.marker)
            raise
        return router

    def _start_backend(self, files: EnvFiles, *, request: DeployRequest) -> Backend:
        """Spawn the new backend (the caller records it, then waits for it)."""
        port = free_port()
        bundle = str(request.bundle_dir)
        version = request.version
        command = [*self.server_command, "--bundle", bundle, "--host", "127.0.0.1"]
        command += ["--port", str(port), "--model-ref", version.ref]
        pid = proc.spawn(
            command=command,
            log_path=_backend_log(files, version.version, port),
            env=_child_env(files),
        )
        return Backend(
            pid=pid,
            port=port,
            model_name=version.model_name,
            version=version.version,
            artifact_digest=version.artifact_digest,
            bundle=bundle,
            manifest_hash=request.manifest_hash,
            git_sha=request.git_sha,
            strategy=describe_strategy(request.manifest),
            data_capture_percentage=request.manifest.data_capture.sampling_percentage,
        )

    def _wait_backend(self, files: EnvFiles, backend: Backend) -> None:
        """Wait for the new backend's ``/ping`` (it is stopped by the caller on failure)."""
        proc.wait_ready(
            port=backend.port, path="/ping", pid=backend.pid, marker=backend.marker,
            timeout=self.health_timeout,
            log_path=_backend_log(files, backend.version, backend.port),
        )  # fmt: skip

    def _watch(
        self,
        backend: Backend,
        *,
        router: RouterProcess,
        baseline: Counters,
        checks: BakeChecks,
        seconds: float,
        beat: Callable[[], None],
    ) -> None:
        """Watch the new backend for ``seconds``: alive, ``/ping``, and within ``checks``."""
        url = f"http://127.0.0.1:{backend.port}"

        def check() -> None:
            beat()
            if not proc.is_running(backend.pid, marker=backend.marker):
                raise TargetError(f"the new inference process {backend.pid} exited")
            if not proc.ping(backend.port):
                raise TargetError(f"the new inference process on port {backend.port} fails /ping")
            window = _counters(router.port, backend.port).since(baseline)
            problem = bake_problem(window, checks, what=f"the new backend ({url})")
            if problem:
                raise BakeCheckError(problem)

        watch_for(check, seconds=seconds, interval=1.0, sleep=self._sleep)

    def _route_back(
        self,
        files: EnvFiles,
        *,
        router: RouterProcess,
        blue: Backend | None,
        green: Backend,
        generation: int,
    ) -> None:
        weights = {blue.port: 100.0} if blue is not None else {}
        capture = blue.data_capture_percentage if blue else 0
        write_routes(files, generation=generation, weights=weights, capture_percentage=capture)
        try:
            wait_router_switched(
                port=router.port,
                generation=generation,
                drained={green.port},
                timeout=self.switch_timeout,
            )
        finally:
            proc.stop(green.pid, marker=green.marker)


def _counters(router_port: int, backend_port: int) -> Counters:
    """The router's counters for one backend, now."""
    return Counters.of(router_status(router_port), f"http://127.0.0.1:{backend_port}")


def _backend_log(files: EnvFiles, version: int, port: int) -> Path:
    return files.logs / f"backend-v{version}-{port}.log"


def _child_env(files: EnvFiles) -> dict[str, str]:
    """The repo importable in children, and the marker naming the environment's folder."""
    return {**_pythonpath(), ROOT_VARIABLE: files.marker}


def _pythonpath() -> dict[str, str]:
    """Make the repo importable in child processes even without an installed package."""
    current = os.environ.get("PYTHONPATH", "")
    parts = [str(_REPO_ROOT), *([current] if current else [])]
    return {"PYTHONPATH": os.pathsep.join(parts)}
