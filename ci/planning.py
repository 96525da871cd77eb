"""Plans of manifests read from the forge (not from the work tree), bound to one commit.

The promotion and the plan comment both plan what a branch or pull request head *would*
deploy: the manifests are read from the forge at that ref and planned from their texts (no
file is written) by ``model_deploy``'s :class:`~model_deploy.service.Deployer` against the real
registry and the real target state. A deployment is one model in one environment, its key
``<env>/<name>`` (the manifest ``<manifests_dir>/<env>/<name>.yaml``). The environments file
(``environments.yaml`` beside the manifests folder) comes along, and so does the same model's
manifest in the upstream environment (``staging/<name>`` for ``prod/<name>``), which the
promotion-order policy reads.

Policies are never read from the change they judge: the policy fields (freeze windows,
thresholds, the promotion path...) come from the base branch's manifests (``policies``), so
a pull request that lifts a freeze is still frozen, and is planned as a policy change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from ci.errors import CiError
from ci.forge.protocol import Files
from foundation.settings import load_settings
from model_build.registry.protocol import ModelRegistry
from model_deploy.errors import DeployError
from model_deploy.manifest.environments import (
    ENVIRONMENTS_FILE,
    environments_repo_path,
    parse_environments,
)
from model_deploy.plan import Plan
from model_deploy.service import Deployer
from model_deploy.settings import DeploySettings


class Planner(Protocol):
    """Plans the deployment ``env`` (``<env>/<name>``) from manifest texts by key.

    The texts hold ``environments.yaml`` too (the environments file).

    ``policies`` are the texts policy fields are read from (the base branch's; None: from
    ``manifests``); ``emergency`` flags an emergency change with its recorded reason.
    """

    def __call__(
        self,
        env: str,
        manifests: Mapping[str, str],
        /,
        *,
        policies: Mapping[str, str] | None = None,
        emergency: str | None = None,
    ) -> Plan:
        """The plan of ``env`` (raises ``DeployError`` or ``BuildError`` when it fails)."""
        ...


RegistryOpener = Callable[[str], ModelRegistry]
"""Opens the registry a manifest names (``local`` or ``sagemaker``)."""

#: Stands in for the plan time when digests are computed (the time is not an input).
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def manifest_path(manifests_dir: str, env: str) -> str:
    """``<manifests_dir>/<key>.yaml``: the repository path of a deployment's manifest.

    ``env`` is the deployment key ``<env>/<name>``; paths are ``/`` separated.
    """
    return f"{manifests_dir.strip('/')}/{env}.yaml"


def environments_file(manifests_dir: str) -> str:
    """The repository path of the environments file of ``manifests_dir``."""
    return environments_repo_path(manifests_dir)


def _wanted(env: str, environments_text: str | None, manifests_dir: str) -> list[str]:
    """``env`` and, when its environment has an upstream, the same name there."""
    wanted = [env]
    name = env.partition("/")[2]
    if environments_text is None or not name:
        return wanted
    try:
        declared = parse_environments(
            text=environments_text, source=environments_file(manifests_dir)
        )
    except DeployError:
        return wanted  # the plan reports the broken file
    rules = declared.environments.get(env.partition("/")[0])
    if rules is not None and rules.upstream:
        wanted.append(f"{rules.upstream}/{name}")
    return wanted


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

    def plan(
        env: str,
        manifests: Mapping[str, str],
        /,
        *,
        policies: Mapping[str, str] | None = None,
        emergency: str | None = None,
    ) -> Plan:
        deployer = Deployer(
            settings=settings or load_settings(DeploySettings), registries=registries
        )
        return deployer.plan_texts(
            env, manifests, folder=manifests_dir, policy_texts=policies, emergency=emergency
        )

    return plan


def read_manifests(
    forge: Files,
    *,
    env: str,
    ref: str,
    manifests_dir: str,
    override: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Texts needed to plan the deployment ``env`` at ``ref``, by key.

    ``env``'s manifest, the environments file (``environments.yaml``) and the same model's
    manifest upstream. ``override`` texts replace what is at ``ref`` (the proposed edit).

    Raises:
        CiError: ``env``'s manifest does not exist at ``ref``.
    """
    texts: dict[str, str] = {}
    environments = (override or {}).get(ENVIRONMENTS_FILE) or forge.read_file(
        path=environments_file(manifests_dir), ref=ref
    )
    if environments is not None:
        texts[ENVIRONMENTS_FILE] = environments
    for name in _wanted(env, environments, manifests_dir):
        if override and name in override:
            texts[name] = override[name]
            continue
        text = forge.read_file(path=manifest_path(manifests_dir, name), ref=ref)
        if text is not None:
            texts[name] = text
        elif name == env:
            raise CiError(f"{manifest_path(manifests_dir, env)} does not exist at {ref}")
    return texts


def policy_manifests(forge: Files, *, env: str, base: str, manifests_dir: str) -> dict[str, str]:
    """The base branch's texts that policies of ``env`` are read from (and its environments file).

    A deployment the base branch does not have yet is left out: every policy field of its new
    manifest is then a policy change.
    """
    texts: dict[str, str] = {}
    environments = forge.read_file(path=environments_file(manifests_dir), ref=base)
    if environments is not None:
        texts[ENVIRONMENTS_FILE] = environments
    for name in _wanted(env, environments, manifests_dir):
        text = forge.read_file(path=manifest_path(manifests_dir, name), ref=base)
        if text is not None:
            texts[name] = text
    return texts


def stable(plan: Plan) -> Plan:
    """The plan with its timestamp fixed, for digests (re-planning later is not a change)."""
    return plan.model_copy(update={"generated_at": EPOCH})
