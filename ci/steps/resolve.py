"""Step 1 of a promotion: which registry version goes where.

``slipway promote --to staging --from dev`` takes the version dev's manifest names;
``slipway promote --to staging 3`` (or ``driver_ranking:3``) names it directly, the model
name defaulting to the one the target (or another environment's) manifest uses. The version is
read from the registry the manifest names; a Rejected version is refused unless the caller
overrides explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ci.errors import PromotionError
from model_build.errors import BuildError
from model_build.registry.protocol import ApprovalStatus, ModelRegistry, ModelVersion
from model_deploy.manifest.loader import LoadedManifest
from model_deploy.manifest.model import ModelRef

_VERSION = re.compile(r"^(?:(?P<name>[A-Za-z0-9](?:-*[A-Za-z0-9_])*):)?(?P<version>[1-9][0-9]*)$")


@dataclass(frozen=True)
class Candidate:
    """The version to promote.

    Attributes:
        model: The manifest block to write.
        record: Its registry record.
        source_env: Environment whose manifest it was taken from, if any.
    """

    model: ModelRef
    record: ModelVersion
    source_env: str | None

    @property
    def rejected(self) -> bool:
        """Whether the registry has it Rejected."""
        return self.record.status == ApprovalStatus.REJECTED


def parse_version(text: str) -> tuple[str | None, int]:
    """Split ``3`` or ``driver_ranking:3``.

    Returns:
        ``(model name or None, version)``.

    Raises:
        PromotionError: Not a version.
    """
    match = _VERSION.match(text.strip())
    if match is None:
        raise PromotionError(f"{text!r} is not a version: write N or MODEL:N (driver_ranking:3)")
    return match.group("name"), int(match.group("version"))


def resolve_candidate(
    *,
    target: LoadedManifest,
    version: str | None,
    source: LoadedManifest | None,
    others: Mapping[str, LoadedManifest],
    registries: Callable[[str], ModelRegistry],
    registry_kind: str | None = None,
) -> Candidate:
    """Find the version to promote and read it from the registry.

    Args:
        target: The target environment's manifest (at the base branch).
        version: ``N`` or ``MODEL:N``, or None with ``source``.
        source: The manifest of the environment to promote from, or None with ``version``.
        others: Other environments' manifests (model name fallback).
        registry_kind: Registry for an explicit version (default: the one the target or
            another manifest names, else ``local``).

    Raises:
        PromotionError: Both or neither of ``version`` and ``source``, the source serves
            nothing, the model name is unknown, or the version is not in the registry.
    """
    if (version is None) == (source is None):
        raise PromotionError("give either a VERSION or --from ENV (not both)")
    if source is not None:
        model = source.manifest.model
        if model is None:
            raise PromotionError(
                f"{source.env}'s manifest has model: null; there is no version to promote"
            )
        return Candidate(model=model, record=_lookup(model, registries), source_env=source.env)
    assert version is not None
    name, number = parse_version(version)
    known = [m.manifest.model for m in (target, *others.values()) if m.manifest.model]
    name = name or (known[0].name if known else None)
    if name is None:
        raise PromotionError(f"no manifest names a model yet; write the version as MODEL:{number}")
    same = [ref for ref in known if ref.name == name]
    kind = registry_kind or (same[0].registry if same else "local")
    if kind not in ("local", "sagemaker"):
        raise PromotionError(f"unknown registry {kind!r}: use local or sagemaker")
    record = _get(kind, name, number, registries)
    model = ModelRef(
        registry="sagemaker" if kind == "sagemaker" else "local",
        name=name,
        version=number,
        feature_service=record.feature_service,
    )
    return Candidate(model=model, record=record, source_env=None)


def _lookup(model: ModelRef, registries: Callable[[str], ModelRegistry]) -> ModelVersion:
    return _get(model.registry, model.name, model.version, registries)


def _get(
    kind: str, name: str, version: int, registries: Callable[[str], ModelRegistry]
) -> ModelVersion:
    try:
        return registries(kind).get(model_name=name, version=version)
    except BuildError as exc:
        raise PromotionError(
            f"{name}:{version} cannot be read from the {kind} registry: {exc}"
        ) from exc
