"""What a local environment really serves, asked from its processes, checked against its files.

The router answers its status endpoint with the weights it really uses and the capture share;
every backend answers ``/metadata`` with the model it loaded. ``target.json`` is only what the
last deploy wrote: where it disagrees with the processes (a hand edit, a crash mid-deploy, a
split the file does not mention), the processes win and a note says what differs, so status
shows drift and apply is not a no-op.
"""

from __future__ import annotations

from model_deploy.manifest.model import LocalTargetSpec
from model_deploy.targets import processes as proc
from model_deploy.targets.local_state import (
    Backend,
    EnvFiles,
    backend_identity,
    live_weights,
    read_state,
    router_status,
)
from model_deploy.targets.protocol import ActualState


def describe_local(*, env: str, files: EnvFiles, spec: LocalTargetSpec) -> ActualState:
    """The actual state of one local environment (reads only; never writes a file)."""
    state, notes = read_state(files)
    router, active, candidate = state.router, state.active, state.candidate
    router_ok = router is not None and proc.is_running(router.pid, marker=router.marker)
    active_ok = active is not None and proc.is_running(active.pid, marker=active.marker)
    if router is not None and not router_ok:
        notes.append(f"router process {router.pid} is not running (stale state file)")
    if active is not None and not active_ok:
        notes.append(
            f"inference process {active.pid} ({active.model_name}:{active.version}) "
            "is not running (stale state file)"
        )
    port = spec.port
    if router is not None and router.port != port:
        notes.append(f"router listens on port {router.port}; the manifest says {port}")
    status = router_status(router.port) if router_ok and router else None
    if router_ok and status is None:
        notes.append(
            f"the router on port {router.port if router else port} does not answer "
            "its status endpoint"
        )
    known = {b.port: b for b in (active, candidate) if b is not None}
    weights = live_weights(status)
    asked = set(weights) | ({active.port} if active_ok and active else set())
    identities = {p: backend_identity(p) for p in sorted(asked)}
    model_name = active.model_name if active else None
    version = active.version if active else None
    digest = active.artifact_digest if active else None
    manifest_hash = active.manifest_hash if active else None
    identity = identities.get(active.port) if active_ok and active else None
    if active_ok and active is not None:
        if identity is None:
            notes.append(f"inference process {active.pid} does not answer /metadata")
        elif identity != (f"{active.model_name}:{active.version}", active.artifact_digest):
            notes.append(
                f"{files.state} says the backend on port {active.port} serves "
                f"{active.model_name}:{active.version} ({active.artifact_digest}), but it "
                f"answers /metadata with {identity[0]} ({identity[1]})"
            )
            model_name, version = _split_ref(identity[0])
            digest, manifest_hash = identity[1], None  # the file's hash is not this model's
    if status is not None:
        notes += _split_notes(weights, active=active if active_ok else None, known=known)
    healthy = bool(
        router_ok and active_ok and router and identity is not None and proc.ping(router.port)
    )
    if router_ok and active_ok and status is not None and not healthy:
        notes.append("the endpoint does not answer /ping with 200")
    details = {"state_file": str(files.state)}
    if router is not None:
        details.update(router_pid=str(router.pid), router_port=str(router.port))
    if active is not None:
        details.update(
            backend_pid=str(active.pid), backend_port=str(active.port), bundle=active.bundle
        )
    if candidate is not None:
        details.update(candidate_pid=str(candidate.pid), candidate_port=str(candidate.port))
    capture = status.get("capture", {}).get("percentage") if status else None
    return ActualState(
        env=env,
        target="local",
        deployed=active is not None,
        healthy=healthy,
        model_name=model_name,
        version=version,
        artifact_digest=digest,
        manifest_hash=manifest_hash,
        git_sha=active.git_sha if active else None,
        endpoint=f"http://127.0.0.1:{router.port if router else port}",
        traffic=_traffic(weights, identities, known),
        data_capture_percentage=_capture(capture, active),
        strategy=active.strategy if active else None,
        notes=notes,
        details=details,
    )


def _split_notes(
    weights: dict[int, float], *, active: Backend | None, known: dict[int, Backend]
) -> list[str]:
    """Notes on traffic that does not all go to the active backend."""
    total = sum(w for w in weights.values() if w > 0)
    if total <= 0:
        return ["the router sends traffic to no backend"] if active is not None else []
    shares = {p: round(100 * w / total, 2) for p, w in weights.items() if w > 0}
    if active is not None and shares == {active.port: 100.0}:
        return []

    def label(port: int) -> str:
        if active is not None and port == active.port:
            return " (the active backend)"
        return " (a deploy's new backend)" if port in known else " (not in the state file)"

    parts = ", ".join(f"{share:g}% to port {p}{label(p)}" for p, share in sorted(shares.items()))
    return [f"traffic is split: the router sends {parts}"]


def _traffic(
    weights: dict[int, float],
    identities: dict[int, tuple[str | None, str | None] | None],
    known: dict[int, Backend],
) -> dict[str, float]:
    """Percent of requests per model reference (per ``127.0.0.1:<port>`` when unknown)."""
    total = sum(w for w in weights.values() if w > 0)
    if total <= 0:
        return {}
    shares: dict[str, float] = {}
    for port, weight in weights.items():
        if weight <= 0:
            continue
        identity = identities.get(port)
        backend = known.get(port)
        if identity is not None and identity[0]:
            name = identity[0]
        elif backend is not None:
            name = f"{backend.model_name}:{backend.version}"
        else:
            name = f"127.0.0.1:{port}"
        shares[name] = round(shares.get(name, 0.0) + 100 * weight / total, 2)
    return shares


def _split_ref(ref: str | None) -> tuple[str | None, int | None]:
    """``("driver_ranking", 2)`` from ``driver_ranking:2`` (Nones when it is not one)."""
    if not ref or ":" not in ref:
        return ref, None
    name, _, number = ref.rpartition(":")
    return (name, int(number)) if number.isdigit() else (ref, None)


def _capture(live: object, active: Backend | None) -> int | None:
    """The capture share the router uses, else the one recorded for the active backend."""
    if isinstance(live, int | float) and not isinstance(live, bool):
        return int(live)
    return active.data_capture_percentage if active else None
