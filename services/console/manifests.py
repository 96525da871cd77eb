"""Parsed manifests kept between requests, re-read when their file changes.

Parsing YAML is most of what a page of 200 deployments costs, so :class:`CachedManifests`
(a :class:`~model_deploy.manifest.sources.ManifestSource`) keeps each parsed manifest with the
``(mtime, size)`` of its file and re-reads it when either changes; a change of the
environments file drops every manifest (their rules come from it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from model_deploy.manifest.environments import Environments, environments_path
from model_deploy.manifest.loader import LoadedManifest
from model_deploy.manifest.sources import ManifestFolder, split_key

_Signature = tuple[int, int]


def _listing(folder: Path) -> tuple[str, ...]:
    """``<env>/<file>.yaml`` of every manifest file under ``folder``, sorted."""
    found = []
    try:
        with os.scandir(folder) as envs:
            for env in envs:
                if not env.is_dir():
                    continue
                with os.scandir(env.path) as files:
                    found += [
                        f"{env.name}/{f.name}"
                        for f in files
                        if f.name.endswith(".yaml") and f.is_file()
                    ]
    except OSError:
        return ()
    return tuple(sorted(found))


def _signature(path: Path) -> _Signature | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


class CachedManifests:
    """The manifests of ``folder`` (a :class:`ManifestFolder`), parsed once per file version."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._environments: tuple[_Signature | None, ManifestFolder] | None = None
        self._loaded: dict[str, tuple[_Signature, LoadedManifest]] = {}
        self._names: tuple[tuple[str, ...], list[str]] | None = None

    def _source(self) -> ManifestFolder:
        signature = _signature(environments_path(self.folder))
        with self._lock:
            if self._environments is None or self._environments[0] != signature:
                self._environments = (signature, ManifestFolder(self.folder))
                self._loaded.clear()
                self._names = None
            return self._environments[1]

    def environments(self) -> Environments:
        """The environments file (re-read when it changes)."""
        return self._source().environments()

    def names(self) -> list[str]:
        """Deployment keys in promotion order.

        The folder is listed on every call (``scandir``); the ordering is redone only when the
        listing or the environments file changed.
        """
        source = self._source()
        listing = _listing(self.folder)
        with self._lock:
            if self._names is not None and self._names[0] == listing:
                return list(self._names[1])
        names = source.names()
        with self._lock:
            self._names = (listing, names)
        return list(names)

    def load(self, key: str) -> LoadedManifest:
        """The validated manifest of ``key``; errors are not cached (see ``ManifestFolder``)."""
        source = self._source()
        env, name = split_key(key)
        signature = _signature(self.folder / env / f"{name}.yaml")
        with self._lock:
            cached = self._loaded.get(key)
        if cached is not None and signature is not None and cached[0] == signature:
            return cached[1]
        loaded = source.load(key)
        if signature is not None:
            with self._lock:
                self._loaded[key] = (signature, loaded)
        return loaded
