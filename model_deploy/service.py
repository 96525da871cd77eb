"""The deployer: manifests, registry and targets behind plan, apply, status and rollback.

Nothing heavy is imported on the plan path: the local target and the local registry use the
standard library, pydantic and ruamel.yaml only; boto3 loads only for a SageMaker target or
registry, when first used.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from model_build.errors import BuildError
from model_build.registry.protocol import ModelRegistry, ModelVersion
from model_deploy.errors import DeployError, ManifestError, ManifestIssue, RegistryLookupError
from model_deploy.manifest.loader import LoadedManifest, load_manifest
from model_deploy.manifest.model import ModelRef
from model_deploy.plan import Plan, build_plan
from model_deploy.policies import PolicyContext, PolicyResult, UpstreamState, evaluate_policies
from model_deploy.policies.config import UPSTREAM
from model_deploy.settings import DeploySettings
from model_deploy.targets.protocol import ActualState, DeployTarget, TargetKind

RegistryOpener = Callable[[str], ModelRegistry]
"""Opens the registry a manifest names (``local`` or ``sagemaker``)."""

ENV_ORDER = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Assessment:
    """Everything gathered to plan one environment (reused by apply).

    Attributes:
        loaded: The manifest.
        target: Its target.
        actual: The target's actual state.
        candidate: Registry record of the desired version, if found.
        plan: The plan.
    """

    loaded: LoadedManifest
    target: DeployTarget
    actual: ActualState
    candidate: ModelVersion | None
    plan: Plan


class Deployer:
    """Plan, apply, roll back and report environments.

    Args:
        settings: Deploy settings (read from the environment when None).
        registries: Opens a registry by kind (default: ``model_build``'s ``open_registry``).
        targets: Target per kind (default: built from the settings on first use).
        clock: Current time (time-zone aware).
    """

    def __init__(
        self,
        *,
        settings: DeploySettings | None = None,
        registries: RegistryOpener | None = None,
        targets: Mapping[str, DeployTarget] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings or DeploySettings()
        self._open_registry = registries or _default_registry
        self._registries: dict[str, ModelRegistry] = {}
        self._targets: dict[str, DeployTarget] = dict(targets or {})
        self.clock = clock

    @property
    def state_dir(self) -> Path:
        """The deploy state root."""
        return self.settings.deploy_state_dir

    def environments(self) -> list[str]:
        """Environment names: one per ``*.yaml`` in the manifests folder (dev, staging, prod first).

        Returns:
            The names.
        """
        folder = self.settings.deploy_manifests_dir
        names = sorted(path.stem for path in folder.glob("*.yaml")) if folder.is_dir() else []
        order = {name: index for index, name in enumerate(ENV_ORDER)}
        return sorted(names, key=lambda name: (order.get(name, len(ENV_ORDER)), name))

    def load(self, env: str) -> LoadedManifest:
        """Load one environment's manifest.

        Args:
            env: Environment name.

        Returns:
            The manifest.

        Raises:
            ManifestError: No such manifest, or it is invalid.
        """
        path = self.settings.deploy_manifests_dir / f"{env}.yaml"
        if not path.is_file():
            known = ", ".join(self.environments()) or "none"
            raise ManifestError(
                [ManifestIssue(str(path), None, None, f"no manifest for {env!r} (known: {known})")]
            )
        return load_manifest(path=path)

    def target(self, kind: TargetKind) -> DeployTarget:
        """The target of a kind (built on first use).

        Args:
            kind: ``local`` or ``sagemaker``.

        Returns:
            The target.
        """
        if kind not in self._targets:
            self._targets[kind] = _default_target(kind, self.settings)
        return self._targets[kind]

    def registry(self, kind: str) -> ModelRegistry:
        """The registry of a kind (opened on first use).

        Args:
            kind: ``local`` or ``sagemaker``.

        Returns:
            The registry.
        """
        if kind not in self._registries:
            self._registries[kind] = self._open_registry(kind)
        return self._registries[kind]

    def lookup(self, ref: ModelRef) -> ModelVersion:
        """Read a version from the registry the manifest names.

        Args:
            ref: The manifest's model reference.

        Returns:
            The registry record.

        Raises:
            RegistryLookupError: The version does not exist or the registry failed.
        """
        try:
            return self.registry(ref.registry).get(model_name=ref.name, version=ref.version)
        except BuildError as exc:
            raise RegistryLookupError(f"{ref.ref} in the {ref.registry} registry: {exc}") from exc

    def assess(self, env: str) -> Assessment:
        """Gather the manifest, the actual state, registry records and policies; build the plan.

        Args:
            env: Environment name.

        Returns:
            The assessment.
        """
        loaded = self.load(env)
        manifest = loaded.manifest
        target = self.target(manifest.target.kind)
        actual = target.describe(env=env, manifest=manifest)
        candidate: ModelVersion | None = None
        results: list[PolicyResult] = []
        if manifest.model is not None:
            try:
                candidate = self.lookup(manifest.model)
            except DeployError as exc:
                results.append(PolicyResult("registry", "fail", f"Cannot read {exc}."))
        serving = self._serving_record(manifest.model, actual)
        ctx = PolicyContext(
            env=env,
            manifest=manifest,
            candidate=candidate,
            upstream=self.upstream(env) if env in UPSTREAM and candidate else None,
            now=self.clock(),
        )
        if candidate is not None or manifest.model is None:
            results.extend(evaluate_policies(ctx))
        plan = build_plan(
            loaded=loaded,
            actual=actual,
            candidate=candidate,
            serving=serving,
            policies=results,
            now=ctx.now,
        )
        return Assessment(
            loaded=loaded, target=target, actual=actual, candidate=candidate, plan=plan
        )

    def plan(self, env: str) -> Plan:
        """What applying ``env`` would do (changes nothing).

        Args:
            env: Environment name.

        Returns:
            The plan.
        """
        return self.assess(env).plan

    def upstream(self, env: str) -> UpstreamState | None:
        """What the environment's upstream (staging for prod) serves, for the promotion policy.

        Args:
            env: Environment name.

        Returns:
            The upstream state, or None when the environment has no upstream.
        """
        name = UPSTREAM.get(env)
        if name is None:
            return None
        try:
            loaded = self.load(name)
            manifest = loaded.manifest
            actual = self.target(manifest.target.kind).describe(env=name, manifest=manifest)
        except DeployError as exc:
            return UpstreamState(env=name, model_ref=None, healthy=False, error=str(exc))
        return UpstreamState(env=name, model_ref=actual.model_ref, healthy=actual.healthy)

    def git_sha(self) -> str:
        """Commit of the manifest repo (settings, else ``git rev-parse HEAD``, else unknown).

        Returns:
            The SHA.
        """
        if self.settings.git_sha:
            return self.settings.git_sha
        try:
            done = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=self.settings.deploy_manifests_dir,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return "unknown"
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"

    def _serving_record(self, ref: ModelRef | None, actual: ActualState) -> ModelVersion | None:
        if actual.model_name is None or actual.version is None:
            return None
        registry = ref.registry if ref else "local"
        try:
            return self.registry(registry).get(model_name=actual.model_name, version=actual.version)
        except BuildError:
            return None


def _default_registry(kind: str) -> ModelRegistry:
    from model_build.registry.factory import open_registry
    from model_build.settings import BuildSettings

    settings = BuildSettings()
    return open_registry(settings.model_copy(update={"registry": kind}))


def _default_target(kind: TargetKind, settings: DeploySettings) -> DeployTarget:
    if kind == "local":
        from model_deploy.targets.local import LocalTarget

        return LocalTarget(
            state_dir=settings.deploy_state_dir,
            server_command=settings.deploy_server_command,
            health_timeout=settings.deploy_health_timeout,
        )
    from model_build.registry.aws import boto3_clients
    from model_deploy.targets.sagemaker import SageMakerTarget

    return SageMakerTarget(
        clients=boto3_clients(region=settings.aws_region, endpoint_url=settings.aws_endpoint_url),
        wait_timeout=settings.deploy_wait_timeout,
        poll_seconds=settings.deploy_poll_seconds,
    )
