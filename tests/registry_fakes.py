"""An in-memory ``ModelRegistry`` that keeps the same rules as the real ones.

Registration checks what ``LocalRegistry`` and ``SageMakerRegistry`` check (finite metrics,
plain-JSON params, the bundle's digest, a complete baseline folder) and keeps the bundle's and
the baseline's files in memory; status changes
go through the same transition rules (``model_build.registry.rules``). The registry contract
suite (``tests/contract/test_registry_contract.py``) runs against it like the real ones.
Subclasses may add versions another way (the ci fake's ``add`` of ready records).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from model_build.errors import RegistryError, VersionNotFoundError
from model_build.registry.baselines import BASELINE_FILES, check_baseline_dir
from model_build.registry.protocol import ApprovalStatus, ModelVersion, NewVersion
from model_build.registry.rules import check_transition, validate_new_version, verify_bundle
from model_bundle.bundle import bundle_files


class InMemoryRegistry:
    """Versions kept in a dict keyed by ``(model, version)``; status changes are recorded."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, int], ModelVersion] = {}
        self.bundles: dict[tuple[str, int], dict[str, bytes]] = {}
        self.baselines: dict[tuple[str, int], dict[str, bytes]] = {}
        self.status_calls: list[tuple[str, int, ApprovalStatus, str]] = []

    def list_models(self) -> list[str]:
        return sorted({name for name, _ in self.versions})

    def register(
        self, *, new: NewVersion, bundle_dir: Path, baseline_dir: Path | None = None
    ) -> ModelVersion:
        validate_new_version(new)
        verify_bundle(
            bundle_dir=bundle_dir, expected=new.artifact_digest, what=f"register {new.model_name}"
        )
        if baseline_dir is not None:
            check_baseline_dir(baseline_dir, what=f"register {new.model_name}")
        number = 1 + max((n for name, n in self.versions if name == new.model_name), default=0)
        version = ModelVersion.model_validate(
            {
                **new.model_dump(),
                "version": number,
                "status": ApprovalStatus.PENDING,
                "artifact_uri": f"memory://{new.model_name}/{number}",
                "created_at": datetime.now(UTC),
            }
        )
        self.bundles[(new.model_name, number)] = {
            name: (bundle_dir / name).read_bytes() for name in bundle_files(bundle_dir)
        }
        if baseline_dir is not None:
            self.baselines[(new.model_name, number)] = {
                name: (baseline_dir / name).read_bytes() for name in BASELINE_FILES
            }
        self.versions[(new.model_name, number)] = version
        return version

    def get(self, *, model_name: str, version: int) -> ModelVersion:
        try:
            return self.versions[(model_name, version)]
        except KeyError:
            raise VersionNotFoundError(f"{model_name}:{version} is not registered") from None

    def list_versions(
        self, *, model_name: str, status: ApprovalStatus | None = None
    ) -> list[ModelVersion]:
        found = [v for (name, _), v in sorted(self.versions.items()) if name == model_name]
        return [v for v in found if status is None or v.status == status]

    def latest(
        self, *, model_name: str, status: ApprovalStatus | None = ApprovalStatus.APPROVED
    ) -> ModelVersion | None:
        found = self.list_versions(model_name=model_name, status=status)
        return found[-1] if found else None

    def set_status(
        self,
        *,
        model_name: str,
        version: int,
        status: ApprovalStatus,
        reason: str = "",
        force: bool = False,
    ) -> ModelVersion:
        record = self.get(model_name=model_name, version=version)
        changes = check_transition(
            ref=record.ref, current=record.status, target=status, force=force
        )
        self.status_calls.append((model_name, version, status, reason))
        if not changes:
            return record
        updated = record.model_copy(update={"status": status, "status_reason": reason})
        self.versions[(model_name, version)] = updated
        return updated

    def fetch_bundle(self, *, model_name: str, version: int, directory: Path) -> Path:
        found = self.get(model_name=model_name, version=version)
        files = self.bundles.get((model_name, version))
        if files is None:
            raise RegistryError(f"{found.ref}: added as a record, so this fake holds no bundle")
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (directory / name).write_bytes(content)
        verify_bundle(bundle_dir=directory, expected=found.artifact_digest, what=found.ref)
        return directory

    def fetch_baseline(self, *, model_name: str, version: int, directory: Path) -> Path | None:
        self.get(model_name=model_name, version=version)
        files = self.baselines.get((model_name, version))
        if files is None:
            return None
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (directory / name).write_bytes(content)
        return directory
