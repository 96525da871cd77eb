"""Whether a failed deploy rejects its version in the registry, and rejecting it.

Only a failure the deployer blames on the model (``cause: model``) rejects, and never:

- a version serving healthily in any environment (every environment's status is checked
  first; one that cannot be checked but whose manifest names the version protects it too);
- the version a revert or rollback restores (it served before: a failure there is not its
  fault, and rejecting it would cascade onto every known-good version).

A refused or locked apply deployed nothing, so it never gets this far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ci.forge.protocol import Files
from ci.outcome import ApplyOutcome
from ci.planning import RegistryOpener, manifest_path
from foundation.errors import SlipwayError
from model_build.errors import BuildError
from model_build.registry.protocol import ApprovalStatus
from model_deploy.errors import DeployError
from model_deploy.manifest.loader import parse_manifest
from model_deploy.manifest.model import ModelRef
from model_deploy.status import EnvStatus

ServingLookup = Callable[[], list[EnvStatus]]
"""Every environment's status (``slipway deploy status``), to see what serves where."""


def status_lookup(status_json: Path | None = None) -> ServingLookup:
    """Every environment's status, looked up on first use.

    It is read from ``slipway deploy status --format json`` output (``status_json``), or
    checked now with ``model_deploy``'s deployer.
    """

    def lookup() -> list[EnvStatus]:
        if status_json is not None:
            from ci.drift import load_statuses

            return load_statuses(status_json)
        from model_deploy.service import Deployer
        from model_deploy.status import status_all

        return status_all(Deployer())

    return lookup


@dataclass(frozen=True)
class RejectionCall:
    """Whether to reject, and why (or why not), in one sentence."""

    reject: bool
    why: str


def decide_rejection(
    forge: Files,
    *,
    outcome: ApplyOutcome | None,
    model: ModelRef,
    env: str,
    sha: str,
    restores: bool,
    serving: ServingLookup | None,
    manifests_dir: str,
) -> RejectionCall:
    """Decide whether the failed deploy of ``model`` to ``env`` at ``sha`` rejects it.

    ``restores`` says the deploy was a revert or rollback (it restored a version that
    served); ``serving`` looks up every environment's status.
    """
    if outcome is None:
        return RejectionCall(
            False,
            "the deploy's cause is unknown (no apply outcome was given), so the model is not "
            "blamed",
        )
    if not outcome.model_at_fault:
        cause = outcome.cause or "unknown"
        return RejectionCall(False, f"the failure's cause is {cause}, not the model")
    if not outcome.blames(model.ref):
        return RejectionCall(
            False, f"the deployer blames {outcome.rejects}, not {model.ref} (the manifest's)"
        )
    if restores:
        return RejectionCall(
            False,
            f"the deploy restored {model.ref}, which served before; a revert never rejects",
        )
    where = _serving_elsewhere(
        forge, model=model, env=env, sha=sha, serving=serving, manifests_dir=manifests_dir
    )
    if where:
        return RejectionCall(False, f"{model.ref} {where}, so it is not rejected")
    return RejectionCall(True, f"the deployer blamed the model: {outcome.reason_text()}")


def reject_version(
    registries: RegistryOpener, model: ModelRef, *, reason: str, problems: list[str]
) -> bool:
    """Mark ``model`` Rejected with ``reason``; False when it already was (or failed: noted)."""
    try:
        registry = registries(model.registry)
        record = registry.get(model_name=model.name, version=model.version)
        if record.status == ApprovalStatus.REJECTED:
            return False
        registry.set_status(
            model_name=model.name,
            version=model.version,
            status=ApprovalStatus.REJECTED,
            reason=reason,
        )
    except BuildError as exc:
        problems.append(f"could not mark {model.ref} Rejected: {exc}")
        return False
    return True


def _serving_elsewhere(
    forge: Files,
    *,
    model: ModelRef,
    env: str,
    sha: str,
    serving: ServingLookup | None,
    manifests_dir: str,
) -> str | None:
    """Where ``model`` serves healthily (or may: unchecked), in words; None when nowhere.

    Another environment that cannot be checked protects the version when its manifest names
    it (``env`` itself just failed it: its manifest always does).
    """
    if serving is None:
        return "cannot be checked in the other environments (no status lookup)"
    try:
        statuses = serving()
    except SlipwayError as exc:
        return f"cannot be checked in the other environments ({exc})"
    healthy = [s.env for s in statuses if s.serving_ref == model.ref and s.healthy]
    if healthy:
        return f"serves healthily in {', '.join(healthy)}"
    unknown = [
        s.env
        for s in statuses
        if s.error
        and s.env != env
        and _names(forge, env=s.env, ref=sha, model=model, manifests_dir=manifests_dir)
    ]
    if unknown:
        return f"is named by the manifest of {', '.join(unknown)}, whose status cannot be read"
    return None


def _names(forge: Files, *, env: str, ref: str, model: ModelRef, manifests_dir: str) -> bool:
    path = manifest_path(manifests_dir, env)
    text = forge.read_file(path=path, ref=ref)
    if text is None:
        return False
    try:
        named = parse_manifest(
            text=text, source=path, expected_env=env.partition("/")[0], key=env
        ).manifest.model
    except DeployError:
        return True  # unreadable: it may name it
    return named is not None and named.ref == model.ref
