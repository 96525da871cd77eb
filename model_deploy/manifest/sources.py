"""Where the deployer reads manifests from: a folder of ``<env>.yaml`` files, or texts in hand.

The work tree's manifests live in a folder (``SLIPWAY_DEPLOY_MANIFESTS_DIR``); the promotion
tooling plans what a branch *would* deploy from manifest texts it read from the forge, with no
file written anywhere. Both answer the same two questions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from model_deploy.errors import ManifestError, ManifestIssue
from model_deploy.manifest.loader import LoadedManifest, load_manifest, parse_manifest

ENV_ORDER = ("dev", "staging", "prod")


class ManifestSource(Protocol):
    """The manifests of every environment."""

    def names(self) -> list[str]:
        """Environment names, dev, staging, prod first, then the others sorted."""
        ...

    def load(self, env: str) -> LoadedManifest:
        """The validated manifest of ``env``.

        Raises:
            ManifestError: There is none, or it is invalid (file, field and line named).
        """
        ...


def ordered(names: list[str]) -> list[str]:
    """Environment names, dev, staging, prod first, then the others sorted."""
    order = {name: index for index, name in enumerate(ENV_ORDER)}
    return sorted(set(names), key=lambda name: (order.get(name, len(ENV_ORDER)), name))


@dataclass(frozen=True)
class ManifestFolder:
    """One ``<env>.yaml`` per environment in ``folder``."""

    folder: Path

    def names(self) -> list[str]:
        """One name per ``*.yaml`` in the folder (none when the folder does not exist)."""
        if not self.folder.is_dir():
            return []
        return ordered([path.stem for path in self.folder.glob("*.yaml")])

    def load(self, env: str) -> LoadedManifest:
        """Read and validate ``<folder>/<env>.yaml``."""
        path = self.folder / f"{env}.yaml"
        if not path.is_file():
            raise _missing(str(path), env, self.names())
        return load_manifest(path=path)


@dataclass(frozen=True)
class ManifestTexts:
    """Manifest texts by environment name, named ``<folder>/<env>.yaml`` in every message.

    ``folder`` is where the texts live in their repository (``model_deploy/environments``):
    a plan's ``manifest_path`` and every error name that path, not a scratch file.
    """

    texts: Mapping[str, str]
    folder: str = "model_deploy/environments"
    _loaded: dict[str, LoadedManifest] = field(default_factory=dict, compare=False, repr=False)

    def names(self) -> list[str]:
        """The environments given a text."""
        return ordered(list(self.texts))

    def load(self, env: str) -> LoadedManifest:
        """Validate the text of ``env`` (once; later calls return the same manifest)."""
        if env not in self._loaded:
            source = self.path_of(env)
            if env not in self.texts:
                raise _missing(source, env, self.names())
            self._loaded[env] = parse_manifest(
                text=self.texts[env], source=source, expected_env=env
            )
        return self._loaded[env]

    def path_of(self, env: str) -> str:
        """``<folder>/<env>.yaml`` with ``/`` separators."""
        return f"{self.folder.strip('/')}/{env}.yaml" if self.folder.strip("/") else f"{env}.yaml"


def _missing(source: str, env: str, known: list[str]) -> ManifestError:
    names = ", ".join(known) or "none"
    return ManifestError(
        [ManifestIssue(source, None, None, f"no manifest for {env!r} (known: {names})")]
    )
