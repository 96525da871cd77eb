"""Status: every environment's drift across git (manifest), the registry and the target."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from model_build.registry.protocol import ApprovalStatus
from model_deploy.errors import DeployError
from model_deploy.plan import compute_changes
from model_deploy.service import Deployer
from model_deploy.state import DeployHistory, read_history


class EnvStatus(BaseModel):
    """One environment, three sources of truth.

    Attributes:
        target: Target kind (None when the manifest cannot be read).
        desired_ref: What the manifest names (None for ``model: null``).
        registry_status: Registry status of the desired version, if it could be read.
        serving_ref: What the target serves, if anything.
        healthy: Whether the target answers its health check.
        in_sync: Whether manifest, registry and target agree and it is healthy.
        drift: One sentence per disagreement.
        warnings: What could not be checked (the serving version's registry record, unreadable
            history lines); the status may be incomplete.
        last_deploy: Last history entry, one line.
        error: Why the environment could not be checked at all.
    """

    model_config = ConfigDict(frozen=True)

    env: str
    target: str | None = None
    desired_ref: str | None = None
    registry_status: str | None = None
    serving_ref: str | None = None
    healthy: bool = False
    in_sync: bool = False
    drift: list[str] = []
    warnings: list[str] = []
    last_deploy: str | None = None
    error: str | None = None


def status_all(deployer: Deployer) -> list[EnvStatus]:
    """Check every environment with a manifest, dev, staging, prod first.

    One environment failing never hides the others: it gets an ``error``.
    """
    return [env_status(deployer, env) for env in deployer.environments()]


def env_status(deployer: Deployer, env: str) -> EnvStatus:
    """Check one environment (``error`` set when its manifest, target or history cannot be read)."""
    try:
        history = read_history(state_dir=deployer.state_dir, env=env)
    except DeployError as exc:
        return EnvStatus(env=env, error=str(exc))
    last_line = _last_line(history)
    try:
        loaded = deployer.load(env)
        manifest = loaded.manifest
        actual = deployer.target(manifest.target.kind).describe(env=env, manifest=manifest)
    except DeployError as exc:
        return EnvStatus(env=env, error=str(exc), last_deploy=last_line, warnings=history.warnings)
    drift: list[str] = []
    warnings = list(history.warnings)
    desired = manifest.model.ref if manifest.model else None
    registry_status = None
    if manifest.model is not None:
        try:
            record = deployer.lookup(manifest.model)
            registry_status = str(record.status)
            if record.status == ApprovalStatus.REJECTED:
                drift.append(f"the manifest names {desired}, which is Rejected in the registry")
        except DeployError as exc:
            drift.append(f"registry: {exc}")
    if actual.model_ref is not None and actual.model_ref != desired:
        serving = deployer.serving_record(manifest.model, actual)
        if serving.warning:
            warnings.append(f"{serving.warning}; its approval status is not checked")
        if serving.record is not None and serving.record.status == ApprovalStatus.REJECTED:
            drift.append(f"the serving version {serving.record.ref} is Rejected in the registry")
    if manifest.model is not None and not actual.deployed:
        drift.append(f"nothing is deployed; the manifest wants {desired}")
    for change in compute_changes(loaded, actual) if actual.deployed else []:
        drift.append(
            f"{change.setting.lower()}: the target has {change.serving or 'nothing'}, "
            f"the manifest wants {change.desired or 'nothing'}"
        )
    drift.extend(actual.notes)
    last = history.last
    if last is not None and last.action == "rollback" and actual.model_ref != desired:
        drift.append(
            f"rolled back to {last.model_ref} at {last.at:%Y-%m-%d %H:%M} UTC; revert the "
            f"manifest in git to match"
        )
    return EnvStatus(
        env=env,
        target=manifest.target.kind,
        desired_ref=desired,
        registry_status=registry_status,
        serving_ref=actual.model_ref,
        healthy=actual.healthy,
        in_sync=not drift and (actual.healthy or manifest.model is None),
        drift=list(dict.fromkeys(drift)),
        warnings=list(dict.fromkeys(warnings)),
        last_deploy=last_line,
    )


def _last_line(history: DeployHistory) -> str | None:
    last = history.last
    if last is None:
        return None
    return f"{last.at:%Y-%m-%d %H:%M} UTC {last.action} {last.model_ref or '-'}: {last.outcome}"
