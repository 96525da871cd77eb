"""The embedded default registry: model versions in a folder, safe for concurrent processes.

Layout::

    <root>/<model_name>/.lock               fcntl lock held while a version is added or changed
    <root>/<model_name>/index.json          summary of every version (rebuilt on each change)
    <root>/<model_name>/<version>/bundle/   copy of the model bundle (an MLflow model folder)
    <root>/<model_name>/<version>/version.json   the ModelVersion plus its status history
    <root>/<model_name>/<version>/baseline/ the monitoring baseline (when registered with one)

Each ``version.json`` is the truth; ``index.json`` is a convenience rebuilt from them. A new
version is prepared in a hidden temporary folder and renamed into place under the lock, and every
file is written atomically (:mod:`foundation.files`), so a crash leaves either the old state or
the new one, never a half-written version.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from foundation.files import write_text_atomic
from model_build.errors import RegistryError, VersionNotFoundError
from model_build.registry.baselines import BASELINE_DIR, check_baseline_dir, copy_baseline
from model_build.registry.protocol import ApprovalStatus, ModelVersion, NewVersion
from model_build.registry.rules import check_transition, validate_new_version, verify_bundle
from model_bundle.bundle import bundle_files

VERSION_FILE = "version.json"
INDEX_FILE = "index.json"
LOCK_FILE = ".lock"
BUNDLE_DIR = "bundle"
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 24 * 3600
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9_])*$")
_log = logging.getLogger(__name__)


class StatusChange(BaseModel):
    """One entry of a version's status history.

    Attributes:
        status: The status set.
        reason: Why (free text; ``registered`` for the first entry).
        at: When (UTC).
        forced: Whether the change needed ``force=True`` (approving a rejected version).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: ApprovalStatus
    reason: str = ""
    at: datetime
    forced: bool = False


class _Record(BaseModel):
    """Content of ``version.json``."""

    model_config = ConfigDict(extra="forbid")

    format: int = 1
    version: ModelVersion
    history: list[StatusChange]


class _IndexEntry(BaseModel):
    version: int
    status: ApprovalStatus
    created_at: datetime
    artifact_digest: str
    run_id: str


class _Index(BaseModel):
    format: int = 1
    model_name: str
    versions: list[_IndexEntry]


class LocalRegistry:
    """Model registry on the local disk (the embedded default), in folder ``root``.

    The folder is created on the first registration.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalRegistry(root={str(self.root)!r})"

    def list_models(self) -> list[str]:
        """Names of the models with at least one version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if entry.is_dir() and _NAME.match(entry.name) and self._version_numbers(entry)
        )

    def register(
        self, *, new: NewVersion, bundle_dir: Path, baseline_dir: Path | None = None
    ) -> ModelVersion:
        """Copy the bundle into the registry and record a new Pending version (1, 2, ... per model).

        ``bundle_dir`` is the model bundle folder; its digest must equal ``new.artifact_digest``.
        ``baseline_dir`` (optional) is the monitoring baseline folder, copied into the version's
        ``baseline/`` before the version is moved into place.

        Raises:
            RegistryError: The bundle is missing, its digest differs, the baseline folder is
                incomplete, the metrics or params cannot be stored exactly, or the disk write
                failed.
        """
        validate_new_version(new)
        verify_bundle(
            bundle_dir=bundle_dir, expected=new.artifact_digest, what=f"register {new.model_name}"
        )
        if baseline_dir is not None:
            check_baseline_dir(baseline_dir, what=f"register {new.model_name}")
        model_dir = self._model_dir(new.model_name)
        try:
            model_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=model_dir))
        except OSError as exc:
            raise RegistryError(f"local registry {self.root}: cannot write: {exc}") from exc
        try:
            _copy_bundle(src=bundle_dir, dst=tmp / BUNDLE_DIR)
            if baseline_dir is not None:
                copy_baseline(src=baseline_dir, dst=tmp / BASELINE_DIR)
            verify_bundle(
                bundle_dir=tmp / BUNDLE_DIR,
                expected=new.artifact_digest,
                what=f"register {new.model_name} (copy)",
            )
            with self._lock(model_dir):
                _sweep_stale(model_dir)
                number = max(self._version_numbers(model_dir), default=0) + 1
                final = model_dir / str(number)
                now = datetime.now(UTC)
                version = ModelVersion.model_validate(
                    {
                        **new.model_dump(),
                        "version": number,
                        "status": ApprovalStatus.PENDING,
                        "artifact_uri": str((final / BUNDLE_DIR).resolve()),
                        "created_at": now,
                    }
                )
                history = [StatusChange(status=ApprovalStatus.PENDING, reason="registered", at=now)]
                record = _Record(version=version, history=history)
                _write_record(tmp / VERSION_FILE, record)
                _fsync_dir(tmp)
                os.rename(tmp, final)  # the commit point
                with suppress(OSError):
                    _fsync_dir(model_dir)
                self._write_index(model_dir)
            return version
        except OSError as exc:
            raise RegistryError(f"local registry {self.root}: cannot register: {exc}") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def get(self, *, model_name: str, version: int) -> ModelVersion:
        """Return one version.

        Raises:
            VersionNotFoundError: No such model or version.
        """
        return self._read(model_name=model_name, version=version).version

    def list_versions(
        self, *, model_name: str, status: ApprovalStatus | None = None
    ) -> list[ModelVersion]:
        """All versions of a model, oldest first, optionally only those with ``status``.

        An unknown model has no versions (an empty list).
        """
        model_dir = self._model_dir(model_name)
        versions = [
            self._read(model_name=model_name, version=number).version
            for number in sorted(self._version_numbers(model_dir))
        ]
        return [v for v in versions if status is None or v.status == status]

    def latest(
        self, *, model_name: str, status: ApprovalStatus | None = ApprovalStatus.APPROVED
    ) -> ModelVersion | None:
        """The newest version with ``status`` (any status if None), or None."""
        versions = self.list_versions(model_name=model_name, status=status)
        return versions[-1] if versions else None

    def set_status(
        self,
        *,
        model_name: str,
        version: int,
        status: ApprovalStatus,
        reason: str = "",
        force: bool = False,
    ) -> ModelVersion:
        """Approve or reject a version and record the change in its history.

        Raises:
            VersionNotFoundError: No such model or version.
            InvalidTransitionError: The change is not allowed (see ``ModelRegistry``).
        """
        model_dir = self._model_dir(model_name)
        self._read(model_name=model_name, version=version)  # VersionNotFoundError before locking
        try:
            with self._lock(model_dir):
                record = self._read(model_name=model_name, version=version)
                current = record.version
                if not check_transition(
                    ref=current.ref, current=current.status, target=status, force=force
                ):
                    return current
                now = datetime.now(UTC)
                forced = (current.status, status) == (
                    ApprovalStatus.REJECTED,
                    ApprovalStatus.APPROVED,
                )
                record.version = current.model_copy(
                    update={"status": status, "status_reason": reason}
                )
                record.history.append(
                    StatusChange(status=status, reason=reason, at=now, forced=forced)
                )
                _write_record(model_dir / str(version) / VERSION_FILE, record)
                self._write_index(model_dir)
                return record.version
        except OSError as exc:
            raise RegistryError(f"local registry {self.root}: cannot set status: {exc}") from exc

    def fetch_bundle(self, *, model_name: str, version: int, directory: Path) -> Path:
        """Copy the version's bundle files into ``directory`` and return ``directory``.

        Raises:
            VersionNotFoundError: No such model or version.
            RegistryError: The stored bundle no longer matches its digest.
        """
        found = self.get(model_name=model_name, version=version)
        source = self._model_dir(model_name) / str(version) / BUNDLE_DIR
        try:
            _copy_bundle(src=source, dst=directory)
        except OSError as exc:
            raise RegistryError(f"{found.ref}: cannot copy the bundle: {exc}") from exc
        verify_bundle(bundle_dir=directory, expected=found.artifact_digest, what=found.ref)
        return directory

    def fetch_baseline(self, *, model_name: str, version: int, directory: Path) -> Path | None:
        """Copy the version's baseline files into ``directory`` and return ``directory``.

        None when the version was registered without a baseline.

        Raises:
            VersionNotFoundError: No such model or version.
            RegistryError: The stored baseline is incomplete or cannot be copied.
        """
        found = self.get(model_name=model_name, version=version)
        source = self._model_dir(model_name) / str(version) / BASELINE_DIR
        if not source.is_dir():
            return None
        check_baseline_dir(source, what=found.ref)
        try:
            return copy_baseline(src=source, dst=directory)
        except OSError as exc:
            raise RegistryError(f"{found.ref}: cannot copy the baseline: {exc}") from exc

    def status_history(self, *, model_name: str, version: int) -> list[StatusChange]:
        """Every status the version had, oldest first, with reasons and times.

        Raises:
            VersionNotFoundError: No such model or version.
        """
        return list(self._read(model_name=model_name, version=version).history)

    # -- internals -----------------------------------------------------------------------------

    def _model_dir(self, model_name: str) -> Path:
        if not _NAME.match(model_name) or len(model_name) > 63:
            raise RegistryError(
                f"invalid model name {model_name!r}: letters, digits, '-' and '_', "
                "starting with a letter or digit, at most 63 characters"
            )
        return self.root / model_name

    @staticmethod
    def _version_numbers(model_dir: Path) -> list[int]:
        if not model_dir.is_dir():
            return []
        return [
            int(entry.name)
            for entry in model_dir.iterdir()
            if entry.name.isdigit() and (entry / VERSION_FILE).is_file()
        ]

    def _read(self, *, model_name: str, version: int) -> _Record:
        model_dir = self._model_dir(model_name)
        if not model_dir.is_dir():
            raise VersionNotFoundError(f"model {model_name!r} not found in {self.root}")
        path = model_dir / str(version) / VERSION_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise VersionNotFoundError(f"{model_name}:{version} not found in {self.root}") from None
        except OSError as exc:
            raise RegistryError(f"{path}: cannot read: {exc}") from exc
        try:
            return _Record.model_validate_json(text)
        except ValidationError as exc:
            raise RegistryError(f"{path}: invalid version record: {exc}") from exc

    def _write_index(self, model_dir: Path) -> None:
        """Rebuild ``index.json`` from the version records (call with the lock held)."""
        entries = []
        for number in sorted(self._version_numbers(model_dir)):
            v = self._read(model_name=model_dir.name, version=number).version
            entries.append(
                _IndexEntry(
                    version=v.version,
                    status=v.status,
                    created_at=v.created_at,
                    artifact_digest=v.artifact_digest,
                    run_id=v.run_id,
                )
            )
        index = _Index(model_name=model_dir.name, versions=entries)
        try:
            write_text_atomic(model_dir / INDEX_FILE, index.model_dump_json(indent=2) + "\n")
        except OSError as exc:  # the change is committed; the index is rebuilt on the next one
            _log.warning("%s: cannot update %s: %s", model_dir, INDEX_FILE, exc)

    @contextmanager
    def _lock(self, model_dir: Path) -> Iterator[None]:
        fd = os.open(model_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


def _copy_bundle(*, src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in bundle_files(src):
        shutil.copyfile(src / name, dst / name)
        with (dst / name).open("rb") as handle:
            os.fsync(handle.fileno())


def _write_record(path: Path, record: _Record) -> None:
    write_text_atomic(path, record.model_dump_json(indent=2) + "\n")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sweep_stale(model_dir: Path) -> None:
    """Remove temporary folders left by crashed registrations (older than a day)."""
    cutoff = time.time() - _STALE_TMP_SECONDS
    for entry in model_dir.iterdir():
        if entry.name.startswith(_TMP_PREFIX) and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
