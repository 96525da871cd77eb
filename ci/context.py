"""What a ci command works with, built once from :class:`~ci.settings.CiSettings`.

The CLI builds a :class:`CiContext` from its options and hands its forge, registries and
planner to the ci functions. Nothing heavy is imported until a part is asked for: listing pull
requests on the local forge never loads the deployer, the registries or PyGithub.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ci.forge import Forge, open_forge
from ci.settings import CiSettings, load_ci_settings

if TYPE_CHECKING:
    from ci.planning import Planner, RegistryOpener
    from model_build.registry.protocol import ModelRegistry


def registry_opener() -> RegistryOpener:
    """Opens ``model_build`` registries by kind (each one once), from ``model_build``'s settings."""
    opened: dict[str, ModelRegistry] = {}

    def open_kind(kind: str) -> ModelRegistry:
        if kind not in opened:
            from model_build.registry.factory import open_registry
            from model_build.settings import load_settings

            opened[kind] = open_registry(load_settings(registry=kind))
        return opened[kind]

    return open_kind


class CiContext:
    """The settings, and the forge, registries and planner they name (each built on first use).

    ``registries`` replaces the registry opener (tests pass an in-memory one).
    """

    def __init__(self, settings: CiSettings, *, registries: RegistryOpener | None = None) -> None:
        self.settings = settings
        self._registries = registries

    @cached_property
    def forge(self) -> Forge:
        """The forge the settings name (no network call is made here)."""
        return open_forge(self.settings)

    @cached_property
    def registries(self) -> RegistryOpener:
        """Opens the registry a manifest names."""
        return self._registries or registry_opener()

    def planner(self) -> Planner:
        """The deployer-backed planner for the settings' manifests folder."""
        from ci.planning import deployer_planner

        return deployer_planner(
            manifests_dir=self.settings.manifests_dir, registries=self.registries
        )


def ci_context(
    *,
    forge: str | None = None,
    repo_dir: Path | None = None,
    base: str | None = None,
    manifests_dir: str | None = None,
) -> CiContext:
    """The context of one command: settings from the environment, non-None arguments win.

    Raises:
        SettingsError: A ``SLIPWAY_*`` variable is invalid (the message names it).
    """
    settings = load_ci_settings(
        forge=str(forge) if forge else None,
        repo_dir=repo_dir,
        base_branch=base,
        manifests_dir=manifests_dir,
    )
    return CiContext(settings)
