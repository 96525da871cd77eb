"""The deployer: manifests, registry, targets and state behind plan, apply, status and rollback.

A deployment is one model in one environment, named by its key ``<env>/<name>`` (the manifest
``<env>/<name>.yaml``); every method taking a deployment also takes a bare environment name
when that environment has exactly one manifest (:meth:`Deployer.resolve`). Locks, histories and
target state are per deployment, so promoting one model never touches another's endpoint. The
environment's rules (approval, clean builds, upstream, promotion path, policy defaults) come
from the environments file, read from the policy source when one is given.

Nothing heavy is imported on the plan path: the local target and the local registry use the
standard library, pydantic and ruamel.yaml only; boto3 loads only for a SageMaker target or
registry, or the S3 state store, when first used. Manifests come from a folder (the default) or
from texts in hand (:class:`~model_deploy.manifest.sources.ManifestTexts`, what the promotion
tooling plans). Policies read their fields (freeze windows, thresholds, regression limits, bake
checks, the promotion path) from the desired manifests, or from a separate policy source: the
promotion tooling passes the base branch's manifests there, so a pull request cannot lift the
rules that judge it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from foundation.settings import load_settings
from model_build.errors import BuildError, VersionNotFoundError
from model_build.registry.protocol import ModelRegistry, ModelVersion
from model_deploy.changes import (
    ChangeKind,
    classify,
    policy_view,
    read_policy_source,
    served_manifest_changes,
)
from model_deploy.defaults import default_registry, default_target, manifests_commit
from model_deploy.errors import DeployError, RegistryLookupError
from model_deploy.manifest.environments import EnvironmentRules
from model_deploy.manifest.loader import LoadedManifest
from model_deploy.manifest.model import ModelRef
from model_deploy.manifest.sources import (
    ManifestFolder,
    ManifestSource,
    ManifestTexts,
    conflicts,
    environment_of,
    resolve,
    select,
)
from model_deploy.plan import (
    Plan,
    build_plan,
    compute_changes,
    plan_action,
)
from model_deploy.policies import (
    PolicyContext,
    PolicyResult,
    UpstreamState,
    evaluate_policies,
)
from model_deploy.settings import DeploySettings
from model_deploy.store.factory import open_state_store
from model_deploy.store.protocol import StateStore
from model_deploy.store.records import DeployHistory
from model_deploy.targets.protocol import ActualState, DeployTarget, TargetKind

RegistryOpener = Callable[[str], ModelRegistry]
"""Opens the registry a manifest names (``local`` or ``sagemaker``)."""

__all__ = ["Assessment", "Deployer", "RegistryOpener", "ServingRecord"]


@dataclass(frozen=True)
class Assessment:
    """Everything gathered to plan one environment (reused by apply).

    Attributes:
        candidate: Registry record of the desired version, if found.
        history: The environment's deploy history.
        kind: The change kind underneath an emergency (the plan's ``change_kind`` otherwise).
    """

    loaded: LoadedManifest
    target: DeployTarget
    actual: ActualState
    candidate: ModelVersion | None
    plan: Plan
    history: DeployHistory
    kind: ChangeKind


@dataclass(frozen=True)
class ServingRecord:
    """The registry record of what serves, or why there is none (``warning``)."""

    record: ModelVersion | None
    warning: str | None = None


class Deployer:
    """Plan, apply, roll back and report environments.

    ``settings`` default to the environment (through ``foundation.settings.load_settings``);
    ``registries`` opens a registry by kind (default: ``model_build``'s ``open_registry`` on
    its settings); ``targets`` maps a kind to its target (default: built from the settings on
    first use); ``manifests`` is where manifests come from (default: the settings' folder);
    ``store`` holds locks, histories and intents (default: picked by ``SLIPWAY_DEPLOY_STATE``);
    ``clock`` gives the current, time-zone aware, time.
    """

    def __init__(
        self,
        *,
        settings: DeploySettings | None = None,
        registries: RegistryOpener | None = None,
        targets: Mapping[str, DeployTarget] | None = None,
        manifests: ManifestSource | None = None,
        store: StateStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        settings = settings or load_settings(DeploySettings)
        self.settings = settings
        self.manifests = manifests or ManifestFolder(settings.deploy_manifests_dir)
        self._store = store
        self._open_registry = registries or default_registry
        self._registries: dict[str, ModelRegistry] = {}
        self._targets: dict[str, DeployTarget] = dict(targets or {})
        self.clock = clock

    @property
    def state_dir(self) -> Path:
        """The deploy state root (local target files; the local store's files)."""
        return self.settings.deploy_state_dir

    @property
    def store(self) -> StateStore:
        """The state store (opened on first use).

        Raises:
            SettingsError: ``SLIPWAY_DEPLOY_STATE=s3`` without a bucket.
        """
        if self._store is None:
            self._store = open_state_store(self.settings)
        return self._store

    def deployments(self) -> list[str]:
        """Every deployment key ``<env>/<name>`` with a manifest, in promotion order."""
        return self.manifests.names()

    def environments(self) -> list[str]:
        """The declared environments, in promotion order.

        Raises:
            ManifestError: The environments file is missing or invalid.
        """
        return self.manifests.environments().names

    def rules(self, env: str) -> EnvironmentRules:
        """The rules of an environment (or of a deployment key's environment).

        Raises:
            ManifestError: The environments file is invalid or does not declare it.
        """
        declared = self.manifests.environments()
        name = environment_of(env)
        if name not in declared.environments:
            select(self.manifests, name)  # raises, naming the declared environments
        return declared.rules(name)

    def select(self, name: str, *, model: str | None = None) -> list[str]:
        """The deployment keys of ``name`` (a key, or every one of an environment).

        Raises:
            ManifestError: Undeclared environment, or no manifest of ``model`` there.
        """
        return select(self.manifests, name, model=model)

    def resolve(self, name: str, *, model: str | None = None) -> str:
        """The one deployment key ``name`` means (an environment with one manifest: that one).

        Raises:
            ManifestError: None or several deployments match.
        """
        if "/" in name and model is None:
            return name
        return resolve(self.manifests, name, model=model)

    def load(self, env: str) -> LoadedManifest:
        """Load one deployment's manifest (``env``: a key, or an environment with one).

        Raises:
            ManifestError: No such manifest, or it is invalid.
        """
        return self.manifests.load(self.resolve(env))

    def target(self, kind: TargetKind) -> DeployTarget:
        """The target of a kind (built on first use)."""
        if kind not in self._targets:
            self._targets[kind] = default_target(kind, self.settings)
        return self._targets[kind]

    def registry(self, kind: str) -> ModelRegistry:
        """The registry of a kind (opened on first use).

        Raises:
            SettingsError: A registry setting (``SLIPWAY_REGISTRY``...) is invalid.
        """
        if kind not in self._registries:
            self._registries[kind] = self._open_registry(kind)
        return self._registries[kind]

    def lookup(self, ref: ModelRef) -> ModelVersion:
        """Read a version from the registry the manifest names.

        Raises:
            RegistryLookupError: The version does not exist or the registry failed.
        """
        try:
            return self.registry(ref.registry).get(model_name=ref.name, version=ref.version)
        except BuildError as exc:
            raise RegistryLookupError(f"{ref.ref} in the {ref.registry} registry: {exc}") from exc

    def serving_record(self, ref: ModelRef | None, actual: ActualState) -> ServingRecord:
        """The registry record of the version ``actual`` serves, looked up where ``ref`` points.

        Nothing serving (or an unknown version) has no record and no warning; a version the
        registry does not hold, or a registry that fails, has no record and a warning saying
        so (the plan then has no metrics baseline, and status cannot check its approval).
        """
        if actual.model_name is None or actual.version is None:
            return ServingRecord(None)
        kind = ref.registry if ref else "local"
        served = f"{actual.model_name}:{actual.version}"
        try:
            record = self.registry(kind).get(model_name=actual.model_name, version=actual.version)
        except VersionNotFoundError:
            return ServingRecord(
                None, f"the serving version {served} is not in the {kind} registry"
            )
        except BuildError as exc:
            return ServingRecord(
                None, f"cannot read the serving version {served} from the {kind} registry: {exc}"
            )
        return ServingRecord(record)

    def assess(
        self, env: str, *, policy: ManifestSource | None = None, emergency: str | None = None
    ) -> Assessment:
        """Gather the manifest, the actual state, registry records, history and policies; plan.

        ``policy`` is where policy fields come from (default: the desired manifest itself);
        ``emergency`` flags an emergency change with its reason (it may pass a freeze window).
        """
        from model_deploy.neighbours import judging_rules, promotion_evidence, upstream_state

        key = self.resolve(env)
        env_name = environment_of(key)
        loaded = self.manifests.load(key)
        manifest = loaded.manifest
        target = self.target(manifest.target.kind)
        actual = target.describe(env=key, manifest=manifest)
        warnings: list[str] = []
        history = self._history(key, warnings)
        candidate: ModelVersion | None = None
        results: list[PolicyResult] = []
        clashes = conflicts(self.manifests, key)
        if clashes:
            results.append(PolicyResult("layout", "fail", f"{key}: {'; '.join(clashes)}."))
        rules, rule_changes, rules_failure = judging_rules(self, env_name, policy)
        if rules_failure is not None:
            results.append(rules_failure)
        if manifest.model is not None:
            try:
                candidate = self.lookup(manifest.model)
            except DeployError as exc:
                results.append(PolicyResult("registry", "fail", f"Cannot read {exc}."))
        serving = self.serving_record(manifest.model, actual)
        if serving.warning:
            warnings.append(serving.warning)
        base, policy_changes, source_failure = read_policy_source(key, manifest, policy)
        policy_changes = [*rule_changes, *policy_changes]
        if source_failure is not None:
            results.append(source_failure)
        changes = compute_changes(loaded, actual)
        action = plan_action(manifest, actual, changes)
        desired_ref = manifest.model.ref if manifest.model else None
        kind, underlying = classify(
            action=action,
            desired_ref=desired_ref,
            serving_ref=actual.model_ref,
            history=history.records,
            emergency=emergency,
        )
        judged = policy_view(manifest, base)
        ctx = PolicyContext(
            env=env_name,
            manifest=judged,
            candidate=candidate,
            upstream=upstream_state(self, key, rules=rules) if candidate else None,
            now=self.clock(),
            kind=underlying,
            serving=serving.record,
            serving_ref=actual.model_ref,
            serving_error=serving.warning,
            promotion=promotion_evidence(self, key, judged, candidate),
            emergency=emergency,
            rules=rules,
            deployment=key,
        )
        if candidate is not None or manifest.model is None:
            results.extend(evaluate_policies(ctx))
        plan = build_plan(
            key=key,
            loaded=loaded,
            actual=actual,
            candidate=candidate,
            serving=serving.record,
            policies=results,
            now=ctx.now,
            warnings=warnings,
            change_kind=kind,
            emergency=emergency,
            manifest_changes=served_manifest_changes(
                manifest, actual=actual, history=history, action=action, warnings=warnings
            ),
            policy_changes=policy_changes,
            policy_source="manifest" if policy is None else "separate",
        )
        return Assessment(
            loaded=loaded,
            target=target,
            actual=actual,
            candidate=candidate,
            plan=plan,
            history=history,
            kind=underlying,
        )

    def plan(
        self, env: str, *, policy: ManifestSource | None = None, emergency: str | None = None
    ) -> Plan:
        """What applying ``env`` would do (changes nothing); see :meth:`assess`."""
        return self.assess(env, policy=policy, emergency=emergency).plan

    def plan_texts(
        self,
        env: str,
        texts: Mapping[str, str],
        *,
        folder: str = "model_deploy/environments",
        policy_texts: Mapping[str, str] | None = None,
        emergency: str | None = None,
    ) -> Plan:
        """What applying ``texts[env]`` would do, with no file read or written for manifests.

        ``texts`` maps deployment keys (``<env>/<name>``) to manifest texts, and
        ``environments.yaml`` to the environments file's: ``env``'s and, for the
        promotion-order policy, its upstream's (``staging/<name>`` for ``prod/<name>``).
        ``policy_texts`` (the base branch's texts, the same way) is where policy fields and the
        environments' rules come from; without it they come from ``texts``. Messages and the
        plan's ``manifest_path`` name them ``<folder>/<key>.yaml``. Registries, targets and the
        state store are this deployer's.
        """
        scoped = self.scoped(ManifestTexts(texts, folder=folder))
        policy = None if policy_texts is None else ManifestTexts(policy_texts, folder=folder)
        return scoped.plan(env, policy=policy, emergency=emergency)

    def scoped(self, manifests: ManifestSource) -> Deployer:
        """This deployer reading its manifests from ``manifests``.

        Registries, targets, the state store and the clock are shared.
        """
        scoped = Deployer(
            settings=self.settings,
            registries=self.registry,
            manifests=manifests,
            store=self.store,
            clock=self.clock,
        )
        scoped._targets = self._targets  # the same targets, built once
        return scoped

    def _history(self, env: str, warnings: list[str]) -> DeployHistory:
        """``env``'s history; an unreadable one is empty with a warning."""
        try:
            history = self.store.read_history(env)
        except DeployError as exc:
            warnings.append(f"cannot read the deploy history: {exc}")
            return DeployHistory([], [])
        warnings.extend(history.warnings)
        return history

    def upstream(self, key: str, *, rules: EnvironmentRules | None = None) -> UpstreamState | None:
        """What ``key``'s upstream (``staging/<name>`` for ``prod/<name>``) serves.

        See :func:`model_deploy.neighbours.upstream_state`.
        """
        from model_deploy.neighbours import upstream_state

        return upstream_state(self, self.resolve(key), rules=rules)

    def git_sha(self) -> str:
        """Commit of the manifest repo (settings, else ``git rev-parse HEAD``, else unknown)."""
        return manifests_commit(self.settings)
