"""What a page reads, each thing at most once per request, through the CLI's own readers.

:class:`ConsoleContext` is built once per app: the settings (the CLI's variables) and the
parsed-manifest cache. :class:`Readers` is built per request: the deployer (``model_deploy``),
the forge (``ci``), the registry (``model_build``) and the git history, each opened on first
use and every answer kept for the rest of the request, so a page makes one ``git log`` call at
most and never reads the same pull request, history or version twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ci.forge import Forge, open_forge
from ci.forge.records import Comment, CommitStatus, PullRequest, Review
from ci.markers import parse_marker
from ci.settings import CiSettings, load_ci_settings
from feature_store.repo import FeatureRepo
from foundation.settings import load_settings
from model_build.registry.protocol import ModelRegistry, ModelVersion
from model_build.settings import BuildSettings
from model_build.settings import load_settings as load_build_settings
from model_deploy.service import Deployer
from model_deploy.settings import DeploySettings
from model_deploy.status import env_status
from model_deploy.store.records import DeployHistory
from model_deploy.targets.protocol import DeployTarget
from services.console.features import FeatureReader
from services.console.gitlog import ManifestCommit, manifest_log
from services.console.manifests import CachedManifests
from services.console.settings import ConsoleSettings
from services.console.status_cache import StatusCache, TimedStatus


@dataclass
class ConsoleContext:
    """The app-wide part: settings and what is kept between requests.

    Kept: the parsed manifests, the deployment statuses (:class:`StatusCache`), the feature
    registry and the model names.

    ``targets``, ``registries`` and ``forge`` replace the ones built from the settings (tests);
    by default they are built like the CLI's.
    """

    console: ConsoleSettings
    ci: CiSettings
    deploy: DeploySettings
    build: BuildSettings
    manifests: CachedManifests
    targets: Mapping[str, DeployTarget] | None = None
    registries: Callable[[str], ModelRegistry] | None = None
    forge: Callable[[], Forge] | None = field(default=None)
    feature_repo: FeatureRepo | None = None
    statuses: StatusCache = field(init=False, repr=False)
    _features: FeatureReader | None = field(default=None, init=False, repr=False)
    _models: tuple[float, list[str]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.statuses = StatusCache(ttl=self.console.status_ttl)

    def registry_models(self, registry: ModelRegistry) -> list[str]:
        """The registry's model names, re-listed when older than the status TTL.

        Listing walks every version folder of a local registry (thousands of ``stat`` calls
        at 20 models x 200 versions), and the set of models changes rarely.
        """
        now = time.monotonic()
        if self._models is not None and now - self._models[0] < self.console.status_ttl:
            return self._models[1]
        names = registry.list_models()
        self._models = (now, names)
        return names

    def features(self) -> FeatureReader:
        """The feature registry reader (one per app, so its cache lasts between requests)."""
        if self._features is None:
            repo = self.feature_repo or FeatureRepo.from_settings()
            self._features = FeatureReader(repo, reports_dir=self.console.reports_dir)
        return self._features

    @classmethod
    def from_environment(cls, console: ConsoleSettings | None = None) -> ConsoleContext:
        """Every setting from the environment (``SLIPWAY_*``), as the CLI reads them.

        Raises:
            SettingsError: A variable is invalid (named, its value never shown).
        """
        deploy = load_settings(DeploySettings)
        return cls(
            console=console or load_settings(ConsoleSettings),
            ci=load_ci_settings(),
            deploy=deploy,
            build=load_build_settings(),
            manifests=CachedManifests(deploy.deploy_manifests_dir),
        )


class Readers:
    """One request's reads (see the module docstring)."""

    def __init__(self, context: ConsoleContext) -> None:
        self.context = context
        self._versions: dict[str, list[ModelVersion]] = {}
        self._histories: dict[str, DeployHistory] = {}
        self._threads: dict[int, tuple[list[Review], list[Comment]]] = {}
        self._statuses: dict[str, list[CommitStatus]] = {}
        self._status_cache: dict[str, TimedStatus] = {}

    @cached_property
    def deployer(self) -> Deployer:
        """The deployer on the cached manifests."""
        return Deployer(
            settings=self.context.deploy,
            manifests=self.context.manifests,
            targets=self.context.targets,
            registries=self.context.registries,
        )

    @cached_property
    def forge(self) -> Forge:
        """The forge the settings name (local git folder or GitHub)."""
        if self.context.forge is not None:
            return self.context.forge()
        return open_forge(self.context.ci)

    @cached_property
    def registry(self) -> ModelRegistry:
        """The registry ``SLIPWAY_REGISTRY`` names."""
        return self.deployer.registry(self.context.build.registry)

    @cached_property
    def environments(self) -> list[str]:
        """Declared environments, in promotion order."""
        return self.deployer.environments()

    @cached_property
    def deployments(self) -> list[str]:
        """Every deployment key, in promotion order."""
        return self.deployer.deployments()

    def statuses_of(self, keys: list[str]) -> dict[str, TimedStatus]:
        """The status of each of ``keys``, from the app's :class:`StatusCache`.

        Read only: an interrupted run is reported, never recovered.
        """
        missing = [k for k in keys if k not in self._status_cache]
        if missing:
            found = self.context.statuses.get(
                missing, lambda key: env_status(self.deployer, key, recover=False)
            )
            self._status_cache.update(found)
        return {k: self._status_cache[k] for k in keys}

    @cached_property
    def log(self) -> list[ManifestCommit]:
        """The base branch's manifest commits, newest first (one ``git log``)."""
        ci = self.context.ci
        return manifest_log(
            repo_dir=ci.repo_dir, ref=ci.base_branch, manifests_dir=ci.manifests_dir
        )

    @cached_property
    def open_prs(self) -> list[PullRequest]:
        """The open pull requests."""
        return self.forge.list_prs(state="open")

    def pr_web_url(self, number: int) -> str | None:
        """The web address of pull request ``number`` (GitHub), None on the local forge.

        Built from the settings, so a history of hundreds of merges lists no closed pull
        request (on GitHub that would page through all of them).
        """
        ci = self.context.ci
        if ci.forge != "github" or not ci.github_repository:
            return None
        api = ci.github_api_url.rstrip("/")
        web = "https://github.com" if api == "https://api.github.com" else api
        web = web.removesuffix("/api/v3")
        return f"{web}/{ci.github_repository}/pull/{number}"

    def upstream(self, env: str) -> str | None:
        """The environment ``env`` takes versions from (``promote_from``), if it names one."""
        from model_deploy.errors import DeployError

        try:
            rules = self.context.manifests.environments().environments.get(env)
        except DeployError:
            return None
        return rules.promote_from if rules is not None else None

    def desired_version(self, key: str) -> int | None:
        """The version ``key``'s manifest names (None for ``model: null`` or an invalid one)."""
        from model_deploy.errors import DeployError

        try:
            model = self.deployer.load(key).manifest.model
        except DeployError:
            return None
        return model.version if model is not None else None

    def history(self, key: str) -> DeployHistory:
        """``key``'s deploy history (an unreadable one: empty, with the reason as a warning)."""
        if key not in self._histories:
            from model_deploy.errors import DeployError

            try:
                self._histories[key] = self.deployer.store.read_history(key)
            except DeployError as exc:
                self._histories[key] = DeployHistory([], [str(exc)])
        return self._histories[key]

    def versions(self, model: str) -> list[ModelVersion]:
        """Every version of ``model``, oldest first."""
        if model not in self._versions:
            self._versions[model] = self.registry.list_versions(model_name=model)
        return self._versions[model]

    def thread(self, number: int) -> tuple[list[Review], list[Comment]]:
        """The reviews and comments of pull request ``number``."""
        if number not in self._threads:
            self._threads[number] = (
                self.forge.list_reviews(number=number),
                self.forge.list_comments(number=number),
            )
        return self._threads[number]

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        """The latest status per context on ``sha``."""
        if sha not in self._statuses:
            self._statuses[sha] = self.forge.list_statuses(sha=sha) if sha else []
        return self._statuses[sha]

    def plan_comment(self, number: int, key: str) -> str | None:
        """The sticky plan comment of ``key`` on pull request ``number`` (every part), if any."""
        parts: dict[int, str] = {}
        for comment in self.thread(number)[1]:
            found = parse_marker(comment.body)
            if found is not None and found[0] == f"plan:{key}":
                parts.setdefault(found[1], comment.body)
        return "\n".join(parts[p] for p in sorted(parts)) if parts else None

    @cached_property
    def _monitored(self) -> dict[str, list[str]]:
        """Deployment keys with monitoring files, each with its candidate summaries (newest first).

        One directory walk per request, so a page of 200 deployments without monitoring makes
        two ``scandir`` calls, not 400 failed opens.
        """
        root = os.fspath(self.context.console.monitor_dir)
        found: dict[str, list[str]] = {}
        for base, runs in ((os.path.join(root, "runs"), True), (root, False)):
            for env in _subdirs(base):
                for model in _subdirs(os.path.join(base, env)):
                    if env == "runs" and not runs:
                        continue
                    folder = os.path.join(base, env, model)
                    paths = (
                        [os.path.join(folder, t, "summary.json") for t in _subdirs(folder)[::-1]]
                        if runs
                        else [os.path.join(folder, "summary.json")]
                    )
                    found.setdefault(f"{env}/{model}", []).extend(paths)
        return found

    def monitor_summary(self, key: str) -> dict[str, Any] | None:
        """The newest monitoring summary of ``key``, if a monitoring run left one.

        ``<monitor_dir>/runs/<env>/<model>/<UTC time>/summary.json`` (``slipway monitor``'s
        layout; the newest time folder wins), else ``<monitor_dir>/<env>/<model>/summary.json``.
        """
        for path in self._monitored.get(key, []):
            try:
                with open(path, encoding="utf-8") as handle:
                    doc = json.load(handle)
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict):
                return doc
        return None


def _subdirs(path: str) -> list[str]:
    """The sub-folder names of ``path``, sorted (none when it is missing)."""
    try:
        with os.scandir(path) as entries:
            return sorted(e.name for e in entries if e.is_dir())
    except OSError:
        return []
