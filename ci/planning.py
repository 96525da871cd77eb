"""Plans of manifests read from the forge (not from the work tree), bound to one commit.

The promotion and the plan comment both plan what a branch or pull request head *would*
deploy: the manifests are read from the forge at that ref and planned from their texts (no
file is written) by ``model_deploy``'s :class:`~model_deploy.service.Deployer` against the real
registry and the real target state. The upstream environment's manifest (staging for prod)
comes along because the promotion-order policy reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from ci.errors import CiError
from ci.forge.protocol import Forge
from foundation.settings import load_settings
from model_build.registry.protocol import ModelRegistry
from model_deploy.plan import Plan
from model_deploy.policies.config import UPSTREAM
from model_deploy.service import Deployer
from model_deploy.settings import DeploySettings

Planner = Callable[[str, Mapping[str, str]], Plan]
"""Plans environment ``env`` given manifest texts by environment name."""

RegistryOpener = Callable[[str], ModelRegistry]
"""Opens the registry a manifest names (``local`` or ``sagemaker``)."""

#: Stands in for the plan time when digests are computed (the time is not an input).
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def manifest_path(manifests_dir: str, env: str) -> str:
    """``<manifests_dir>/<env>.yaml``: the repository path of a manifest (``/`` separated)."""
    return f"{manifests_dir.strip('/')}/{env}.yaml"


def deployer_planner(
    *,
    manifests_dir: str,
    settings: DeploySettings | None = None,
    registries: RegistryOpener | None = None,
) -> Planner:
    """A planner backed by ``model_deploy``'s deployer, planning manifest texts in memory.

    ``manifests_dir`` is the manifests folder in the repository: the plan's manifest path and
    every manifest error name ``<manifests_dir>/<env>.yaml``. ``settings`` (state folder,
    timeouts) are read from the environment when None; ``registries`` defaults to
    ``model_build``'s, from its settings.
    """

    def plan(env: str, manifests: Mapping[str, str]) -> Plan:
        deployer = Deployer(
            settings=settings or load_settings(DeploySettings), registries=registries
        )
        return deployer.plan_texts(env, manifests, folder=manifests_dir)

    return plan


def read_manifests(
    forge: Forge,
    *,
    env: str,
    ref: str,
    manifests_dir: str,
    override: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Manifest texts needed to plan ``env`` at ``ref`` (``env`` and its upstream), by name.

    ``override`` texts replace what is at ``ref`` (the proposed edit).

    Raises:
        CiError: ``env``'s manifest does not exist at ``ref``.
    """
    wanted = [env] + ([UPSTREAM[env]] if env in UPSTREAM else [])
    texts: dict[str, str] = {}
    for name in wanted:
        if override and name in override:
            texts[name] = override[name]
            continue
        text = forge.read_file(path=manifest_path(manifests_dir, name), ref=ref)
        if text is not None:
            texts[name] = text
        elif name == env:
            raise CiError(f"{manifest_path(manifests_dir, env)} does not exist at {ref}")
    return texts


def stable(plan: Plan) -> Plan:
    """The plan with its timestamp fixed, for digests (re-planning later is not a change)."""
    return plan.model_copy(update={"generated_at": EPOCH})
