"""Plans of manifests read from the forge (not from the work tree), bound to one commit.

The promotion and the plan comment both plan what a branch or pull request head *would*
deploy: the manifests are read from the forge at that ref, written to a scratch folder and
planned there by ``model_deploy``'s :class:`~model_deploy.service.Deployer` against the real
registry and the real target state. The upstream environment's manifest (staging for prod)
comes along because the promotion-order policy reads it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from ci.errors import CiError
from ci.forge.protocol import Forge
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
    """Repository path of an environment's manifest (``/`` separated).

    Args:
        manifests_dir: Manifests folder relative to the repository root.
        env: Environment name.

    Returns:
        ``<manifests_dir>/<env>.yaml``.
    """
    return f"{manifests_dir.strip('/')}/{env}.yaml"


def deployer_planner(
    *,
    manifests_dir: str,
    settings: DeploySettings | None = None,
    registries: RegistryOpener | None = None,
) -> Planner:
    """A planner backed by ``model_deploy``'s deployer.

    Args:
        manifests_dir: Manifests folder in the repository (shown as the plan's manifest path).
        settings: Deploy settings (state folder, timeouts); read from the environment if None.
        registries: Opens registries (default: ``model_build``'s, from its settings).

    Returns:
        The planner.
    """

    def plan(env: str, manifests: Mapping[str, str]) -> Plan:
        base = settings or DeploySettings()
        with tempfile.TemporaryDirectory(prefix="slipway-plan-") as scratch:
            folder = Path(scratch)
            for name, text in manifests.items():
                (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
            deployer = Deployer(
                settings=base.model_copy(update={"deploy_manifests_dir": folder}),
                registries=registries,
            )
            result = deployer.plan(env)
        return result.model_copy(update={"manifest_path": manifest_path(manifests_dir, env)})

    return plan


def read_manifests(
    forge: Forge,
    *,
    env: str,
    ref: str,
    manifests_dir: str,
    override: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Manifest texts needed to plan ``env`` at ``ref`` (``env`` and its upstream).

    Args:
        forge: The forge.
        env: Environment to plan.
        ref: Branch or commit.
        manifests_dir: Manifests folder in the repository.
        override: Texts that replace what is at ``ref`` (the proposed edit).

    Returns:
        Environment name to manifest text.

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
