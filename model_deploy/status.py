"""Status: every environment's drift across git (manifest), the registry, the target and history.

The target is asked what it really serves (the local router's weights and each backend's
``/metadata``; SageMaker's endpoint and tags) and compared with the manifest, with the registry
and with the deploy history. A run holding the lock is reported as a deploy in progress, not as
drift; a run that was interrupted (its lock stale, its intent left behind) is finished or undone
first, under the lock, and reported.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, computed_field

from model_build.registry.protocol import ApprovalStatus
from model_deploy.errors import DeployError, LockedError
from model_deploy.plan import compute_changes
from model_deploy.recovery import recover_interrupted
from model_deploy.service import Deployer
from model_deploy.state import deployment_stack
from model_deploy.store.protocol import holding_lock
from model_deploy.store.records import DeployHistory
from model_deploy.targets.protocol import ActualState


class EnvStatus(BaseModel):
    """One deployment (a model in an environment), four sources of truth.

    Attributes:
        env: The deployment key ``<env>/<name>`` (``environment`` and ``model`` split it).
        target: Target kind (None when the manifest cannot be read).
        desired_ref: What the manifest names (None for ``model: null``).
        registry_status: Registry status of the desired version, if it could be read.
        serving_ref: What the target serves, if anything.
        healthy: Whether the target answers its health check.
        in_sync: Whether manifest, registry, target and history agree and it is healthy.
        drift: One sentence per disagreement (empty while a deploy is in progress).
        warnings: What could not be checked (the serving version's registry record, unreadable
            history lines); the status may be incomplete.
        last_deploy: Last history entry, one line.
        in_progress: The run holding the lock (``apply of driver_ranking:2, step 2/4 (50% on
            it) by apply (pid 12, ...)``), when one does: drift is not judged meanwhile.
        recovered: An interrupted run this status found and finished or undid.
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
    in_progress: str | None = None
    recovered: str | None = None
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def environment(self) -> str:
        """The environment of the deployment."""
        return self.env.partition("/")[0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def model(self) -> str:
        """The deployment's name in its environment (by convention the model's name)."""
        return self.env.partition("/")[2]


def status_all(
    deployer: Deployer, *, recover: bool = True, names: list[str] | None = None
) -> list[EnvStatus]:
    """Check every deployment (or those ``names`` select), in promotion order.

    ``names`` are deployment keys or environments (each meaning all of its deployments). One
    deployment failing never hides the others: it gets an ``error``. ``recover=False`` only
    reports an interrupted run instead of finishing or undoing it.
    """
    keys = deployer.deployments()
    if names:
        keys = list(dict.fromkeys(k for name in names for k in deployer.select(name)))
    return [env_status(deployer, key, recover=recover) for key in keys]


def env_status(deployer: Deployer, env: str, *, recover: bool = True) -> EnvStatus:
    """Check one deployment (``env``: a key, or an environment with one manifest).

    ``error`` is set when its manifest, target or history cannot be read.
    """
    try:
        env = deployer.resolve(env)
    except DeployError as exc:
        return EnvStatus(env=env, error=str(exc))
    store = deployer.store
    recovered: str | None = None
    warnings: list[str] = []
    try:
        in_progress = _in_progress(deployer, env)
        if in_progress is None and recover and store.read_intent(env).found:
            try:
                with holding_lock(
                    store, env, operation="recover", ttl=deployer.settings.deploy_lock_ttl
                ):
                    recovered, warnings = recover_interrupted(deployer, env)
            except LockedError:
                in_progress = _in_progress(deployer, env) or "another run took the lock"
        elif in_progress is None and store.read_intent(env).found:
            warnings.append("an interrupted run left its intent; the next apply recovers it")
        history = store.read_history(env)
    except DeployError as exc:
        return EnvStatus(env=env, error=str(exc))
    last_line = _last_line(history)
    warnings += history.warnings
    try:
        loaded = deployer.load(env)
        manifest = loaded.manifest
        actual = deployer.target(manifest.target.kind).describe(env=env, manifest=manifest)
    except DeployError as exc:
        return EnvStatus(
            env=env,
            error=str(exc),
            last_deploy=last_line,
            warnings=warnings,
            in_progress=in_progress,
            recovered=recovered,
        )
    desired = manifest.model.ref if manifest.model else None
    common = {
        "env": env,
        "target": manifest.target.kind,
        "desired_ref": desired,
        "serving_ref": actual.model_ref,
        "healthy": actual.healthy,
        "last_deploy": last_line,
        "recovered": recovered,
    }
    if in_progress is not None:
        return EnvStatus(**common, in_progress=in_progress, warnings=warnings)
    drift: list[str] = []
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
    drift.extend(_history_drift(history, actual))
    last = history.last
    if last is not None and last.action == "rollback" and actual.model_ref != desired:
        drift.append(
            f"rolled back to {last.model_ref} at {last.at:%Y-%m-%d %H:%M} UTC; revert the "
            f"manifest in git to match"
        )
    return EnvStatus(
        **common,
        registry_status=registry_status,
        in_sync=not drift and (actual.healthy or manifest.model is None),
        drift=list(dict.fromkeys(drift)),
        warnings=list(dict.fromkeys(warnings)),
    )


def _in_progress(deployer: Deployer, env: str) -> str | None:
    """The run holding ``env``'s lock, with the step its intent says it is at."""
    holder = deployer.store.holder(env)
    if holder is None:
        return None
    intent = deployer.store.read_intent(env).intent
    what = intent.describe() if intent is not None else holder.operation
    return f"{what} by {holder.describe()}"


def _history_drift(history: DeployHistory, actual: ActualState) -> list[str]:
    """What the target serves against what the history says was deployed last."""
    stack = deployment_stack(history.records)
    if not stack or not actual.deployed:
        return []
    last = stack[-1]
    if last.model_ref == actual.model_ref and (
        actual.manifest_hash is None or last.manifest_hash == actual.manifest_hash
    ):
        return []
    return [
        f"the deploy history says {last.model_ref} (manifest {last.manifest_hash[7:19]}) was "
        f"deployed last, but the target serves {actual.model_ref or 'an unknown version'}"
    ]


def _last_line(history: DeployHistory) -> str | None:
    last = history.last
    if last is None:
        return None
    return f"{last.at:%Y-%m-%d %H:%M} UTC {last.action} {last.model_ref or '-'}: {last.outcome}"
