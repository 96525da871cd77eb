"""Where the deployer reads manifests from: a folder of ``<env>/<name>.yaml``, or texts in hand.

A deployment is one model in one environment, named by its key ``<env>/<name>``: the manifest
``<folder>/<env>/<name>.yaml``, where ``<env>`` is an environment declared in the
environments file beside the folder (``model_deploy/environments.yaml``) and ``<name>`` is,
by convention, the model's name. The work tree's manifests live in a folder
(``SLIPWAY_DEPLOY_MANIFESTS_DIR``); the promotion tooling plans what a branch *would* deploy
from texts it read from the forge, with no file written anywhere. Both answer the same three
questions: which deployments exist, what one of them says, and which environments exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from model_deploy.errors import ManifestError, ManifestIssue
from model_deploy.manifest.environments import (
    ENVIRONMENTS_FILE,
    EnvironmentRules,
    Environments,
    environments_path,
    environments_repo_path,
    load_environments,
    parse_environments,
)
from model_deploy.manifest.loader import LoadedManifest, load_manifest, parse_manifest

__all__ = [
    "ENVIRONMENTS_FILE",
    "ManifestFolder",
    "ManifestSource",
    "ManifestTexts",
    "conflicts",
    "deployment_key",
    "environment_of",
    "resolve",
    "select",
    "serving_manifest",
    "split_key",
]


def deployment_key(env: str, name: str) -> str:
    """``<env>/<name>``: one model's deployment in one environment."""
    return f"{env}/{name}"


def split_key(key: str) -> tuple[str, str]:
    """``(env, name)`` of a key ``<env>/<name>`` (``name`` is empty for a bare environment)."""
    env, _, name = key.partition("/")
    return env, name


def environment_of(key: str) -> str:
    """The environment of a key (the key itself when it is a bare environment name)."""
    return key.partition("/")[0]


class ManifestSource(Protocol):
    """The manifests of every deployment, and the environments they belong to."""

    def names(self) -> list[str]:
        """Deployment keys ``<env>/<name>``, in promotion order, then by name."""
        ...

    def load(self, key: str) -> LoadedManifest:
        """The validated manifest of the deployment ``key`` (``<env>/<name>``).

        Raises:
            ManifestError: There is none, its environment is not declared, or it is invalid
                (file, field and line named).
        """
        ...

    def environments(self) -> Environments:
        """The environments file.

        Raises:
            ManifestError: It is missing or invalid.
        """
        ...


@dataclass(frozen=True)
class ManifestFolder:
    """One ``<folder>/<env>/<name>.yaml`` per deployment; the environments file beside it.

    ``environments_file`` overrides where the environments file is (default:
    ``<folder>/../environments.yaml``).
    """

    folder: Path
    environments_file: Path | None = None
    _cache: dict[str, Environments] = field(default_factory=dict, compare=False, repr=False)

    def environments(self) -> Environments:
        """The environments file (read once)."""
        if "file" not in self._cache:
            path = self.environments_file or environments_path(self.folder)
            self._cache["file"] = load_environments(path=path)
        return self._cache["file"]

    def names(self) -> list[str]:
        """One key per ``<env>/<name>.yaml`` under the folder (none without the folder)."""
        if not self.folder.is_dir():
            return []
        keys = [
            deployment_key(path.parent.name, path.stem)
            for path in self.folder.glob("*/*.yaml")
            if path.is_file()
        ]
        return _ordered(self, keys)

    def load(self, key: str) -> LoadedManifest:
        """Read and validate ``<folder>/<env>/<name>.yaml`` with its environment's defaults."""
        env, name = split_key(key)
        path = self.folder / env / f"{name}.yaml"
        if not name or not path.is_file():
            raise _missing(str(path), key, self.names(), legacy=self.folder / f"{env}.yaml")
        rules = _rules(self, env, path=str(path))
        return load_manifest(path=path, env=env, rules=rules)


@dataclass(frozen=True)
class ManifestTexts:
    """Manifest texts by key (``<env>/<name>``), named ``<folder>/<key>.yaml`` in messages.

    ``folder`` is where the texts live in their repository (``model_deploy/environments``): a
    plan's ``manifest_path`` and every error name that path, not a scratch file. The
    environments file's text is the entry ``environments.yaml`` (:data:`ENVIRONMENTS_FILE`).
    """

    texts: Mapping[str, str]
    folder: str = "model_deploy/environments"
    _loaded: dict[str, LoadedManifest] = field(default_factory=dict, compare=False, repr=False)
    _envs: dict[str, Environments] = field(default_factory=dict, compare=False, repr=False)

    def environments(self) -> Environments:
        """The environments file's text, validated (once)."""
        if "file" not in self._envs:
            source = environments_repo_path(self.folder)
            text = self.texts.get(ENVIRONMENTS_FILE)
            if text is None:
                raise ManifestError(
                    [ManifestIssue(source, None, None, "file not found: no environments text")]
                )
            self._envs["file"] = parse_environments(text=text, source=source)
        return self._envs["file"]

    def names(self) -> list[str]:
        """The deployments given a text."""
        return _ordered(self, [key for key in self.texts if "/" in key])

    def load(self, key: str) -> LoadedManifest:
        """Validate the text of ``key`` (once; later calls return the same manifest)."""
        if key not in self._loaded:
            source = self.path_of(key)
            if key not in self.texts or "/" not in key:
                raise _missing(source, key, self.names())
            env = environment_of(key)
            rules = _rules(self, env, path=source)
            self._loaded[key] = parse_manifest(
                text=self.texts[key], source=source, expected_env=env, rules=rules, key=key
            )
        return self._loaded[key]

    def path_of(self, key: str) -> str:
        """``<folder>/<key>.yaml`` with ``/`` separators."""
        folder = self.folder.strip("/")
        return f"{folder}/{key}.yaml" if folder else f"{key}.yaml"


def select(source: ManifestSource, name: str, *, model: str | None = None) -> list[str]:
    """The deployment keys ``name`` means: ``<env>/<name>`` itself, or every one of ``<env>``.

    ``model`` narrows an environment to the deployment of that model: the file
    ``<env>/<model>.yaml``, or the manifest of ``<env>`` whose ``model.name`` it is.

    Raises:
        ManifestError: The environment is not declared, or ``model`` has no manifest there.
    """
    env, given = split_key(name)
    declared = source.environments()
    if env not in declared.environments:
        raise ManifestError(
            [
                ManifestIssue(
                    name,
                    None,
                    None,
                    f"{env!r} is not an environment (declared: {', '.join(declared.names)})",
                )
            ]
        )
    if given:
        if model is not None and model != given:
            raise ManifestError(
                [ManifestIssue(name, None, None, f"names {given!r}, and --model {model!r}")]
            )
        return [name]
    keys = [key for key in source.names() if environment_of(key) == env]
    if model is None:
        return keys
    direct = deployment_key(env, model)
    if direct in keys:
        return [direct]
    named = [key for key in keys if _serves(source, key, model)]
    if not named:
        known = ", ".join(split_key(key)[1] for key in keys) or "none"
        raise ManifestError(
            [ManifestIssue(name, None, None, f"{env} has no manifest of {model!r} (has: {known})")]
        )
    return named


def resolve(source: ManifestSource, name: str, *, model: str | None = None) -> str:
    """The one deployment key ``name`` (and ``model``) means (see :func:`select`).

    An environment with exactly one manifest means that one.

    Raises:
        ManifestError: None, or several (name the model: ``<env>/<model>`` or ``--model``).
    """
    keys = select(source, name, model=model)
    if len(keys) == 1:
        return keys[0]
    if not keys:
        raise ManifestError([ManifestIssue(name, None, None, f"{name} has no manifest")])
    raise ManifestError(
        [
            ManifestIssue(
                name,
                None,
                None,
                f"{name} has {len(keys)} manifests ({', '.join(keys)}); name one as "
                f"{name}/MODEL or with --model",
            )
        ]
    )


def serving_manifest(
    env: str, model: str, *, manifests_dir: Path | None = None
) -> LoadedManifest | None:
    """The manifest of ``model`` in ``env`` (for the build's "not worse than serving" gate).

    ``<manifests_dir>/<env>/<model>.yaml``, else the manifest of ``env`` whose ``model.name``
    is ``model``; None when ``env`` has none. ``manifests_dir`` defaults to the deploy
    settings' folder (``SLIPWAY_DEPLOY_MANIFESTS_DIR``).

    Raises:
        ManifestError: ``env`` is not declared, or the manifest (or environments file) is
            invalid.
        SettingsError: A deploy setting is invalid.
    """
    if manifests_dir is None:
        from foundation.settings import load_settings
        from model_deploy.settings import DeploySettings

        manifests_dir = load_settings(DeploySettings).deploy_manifests_dir
    source = ManifestFolder(manifests_dir)
    try:
        key = select(source, env, model=model)[0]
    except ManifestError as exc:
        if env in source.environments().environments and "has no manifest" in str(exc):
            return None
        raise
    return source.load(key)


def conflicts(source: ManifestSource, key: str) -> list[str]:
    """What ``key``'s manifest clashes with among the others the source holds.

    Two local targets on one port (every local endpoint shares this machine), or two
    manifests of one environment serving the same model, are conflicts; manifests that cannot
    be read are left to their own plans.
    """
    try:
        mine = source.load(key).manifest
    except ManifestError:
        return []
    found = []
    port = getattr(mine.target, "port", None)
    for other in source.names():
        if other == key:
            continue
        try:
            theirs = source.load(other).manifest
        except ManifestError:
            continue
        if port is not None and getattr(theirs.target, "port", None) == port:
            found.append(f"{other} uses the same local port {port}")
        if (
            environment_of(other) == environment_of(key)
            and mine.model is not None
            and theirs.model is not None
            and mine.model.name == theirs.model.name
        ):
            found.append(f"{other} serves the same model {mine.model.name} in this environment")
    return found


def _serves(source: ManifestSource, key: str, model: str) -> bool:
    try:
        ref = source.load(key).manifest.model
    except ManifestError:
        return False
    return ref is not None and ref.name == model


def _rules(source: ManifestSource, env: str, *, path: str) -> EnvironmentRules:
    """The rules of ``env``, the folder of the manifest at ``path``.

    Raises:
        ManifestError: ``env`` is not declared in the environments file.
    """
    declared = source.environments()
    if env not in declared.environments:
        raise ManifestError(
            [
                ManifestIssue(
                    path,
                    None,
                    None,
                    f"its folder {env!r} is not an environment declared in {ENVIRONMENTS_FILE} "
                    f"(declared: {', '.join(declared.names)}); a manifest's environment is the "
                    "folder it is in",
                )
            ]
        )
    return declared.rules(env)


def _ordered(source: ManifestSource, keys: list[str]) -> list[str]:
    try:
        return source.environments().order(keys)
    except ManifestError:
        return sorted(set(keys))


def _missing(
    source: str, key: str, known: list[str], *, legacy: Path | None = None
) -> ManifestError:
    names = ", ".join(known) or "none"
    hint = ""
    if legacy is not None and legacy.is_file():
        hint = (
            f"; {legacy} is a manifest of the old layout: move it to "
            f"{legacy.parent / legacy.stem}/<model>.yaml"
        )
    return ManifestError(
        [ManifestIssue(source, None, None, f"no manifest for {key!r} (known: {names}){hint}")]
    )
