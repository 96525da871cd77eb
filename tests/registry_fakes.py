"""The read and status side of an in-memory ``ModelRegistry``, shared by the test fakes.

Subclasses decide how versions get in (``register`` with bundles, or ``add`` of records).
"""

from __future__ import annotations

from model_build.errors import VersionNotFoundError
from model_build.registry.protocol import ApprovalStatus, ModelVersion


class InMemoryRegistry:
    """Versions kept in a dict keyed by ``(model, version)``; status changes are recorded."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, int], ModelVersion] = {}
        self.status_calls: list[tuple[str, int, ApprovalStatus, str]] = []

    def list_models(self) -> list[str]:
        return sorted({name for name, _ in self.versions})

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
        self.status_calls.append((model_name, version, status, reason))
        updated = record.model_copy(update={"status": status, "status_reason": reason})
        self.versions[(model_name, version)] = updated
        return updated
