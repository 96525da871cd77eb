"""Reconcile a local environment after a deploy was interrupted: one backend, no orphans.

A killed deploy can leave the router splitting traffic between the old backend and a new one,
a new backend ``target.json`` lists only as a candidate, or processes no file recorded at all
(killed between spawning and writing). The active backend of ``target.json`` is kept while it
runs; when it is gone, a candidate that passed its smoke tests takes its place. The router is
pointed at that one backend, the others are drained, and every process carrying the
environment's marker (``SLIPWAY_LOCAL_TARGET_ROOT``) that is neither the router nor that backend
is stopped.
"""

from __future__ import annotations

from model_deploy.targets import processes as proc
from model_deploy.targets.local_state import (
    ROOT_VARIABLE,
    Backend,
    EnvFiles,
    LocalState,
    live_weights,
    read_state,
    router_status,
    routes_generation,
    wait_router_switched,
    write_routes,
    write_state,
)


def reconcile_files(files: EnvFiles, *, switch_timeout: float) -> None:
    """Converge one environment's processes and routes (see the module docstring).

    Raises:
        TargetError: The router did not switch to the kept backend in time.
    """
    state, _ = read_state(files)
    router = state.router
    if router is not None and not proc.is_running(router.pid, marker=router.marker):
        router = None
    keep = _kept(state)
    generation = max(state.generation, routes_generation(files)) + 1
    if router is not None:
        drained = set(live_weights(router_status(router.port))) - ({keep.port} if keep else set())
        weights = {keep.port: 100.0} if keep is not None else {}
        capture = keep.data_capture_percentage if keep is not None else 0
        write_routes(files, generation=generation, weights=weights, capture_percentage=capture)
        wait_router_switched(
            port=router.port, generation=generation, drained=drained, timeout=switch_timeout
        )
    write_state(files, LocalState(router=router, active=keep, generation=generation))
    wanted = {p.pid for p in (router, keep) if p is not None}
    for group in proc.marked_groups(variable=ROOT_VARIABLE, value=files.marker) - wanted:
        proc.stop_group(group, variable=ROOT_VARIABLE, value=files.marker)
    candidate = state.candidate
    if candidate is not None and candidate is not keep:
        proc.stop(candidate.pid, marker=candidate.marker)


def _kept(state: LocalState) -> Backend | None:
    """The backend that takes all traffic: the active one, else a verified, healthy candidate."""
    active = state.active
    if active is not None and proc.is_running(active.pid, marker=active.marker):
        return active
    candidate = state.candidate
    if (
        candidate is not None
        and state.candidate_verified
        and proc.is_running(candidate.pid, marker=candidate.marker)
        and proc.ping(candidate.port)
    ):
        return candidate
    return None
