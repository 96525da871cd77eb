"""The model registry: a protocol with a local (embedded) and a SageMaker implementation.

The names below are loaded on first use, so importing one registry module (``protocol``,
``compare``) does not import the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_build.registry.factory import open_registry
    from model_build.registry.local import LocalRegistry, StatusChange
    from model_build.registry.protocol import (
        ApprovalStatus,
        BiasRecord,
        ModelRegistry,
        ModelVersion,
        NewVersion,
        TrackingLink,
    )
    from model_build.registry.sagemaker import SageMakerRegistry

_HOMES = {
    "ApprovalStatus": "protocol",
    "BiasRecord": "protocol",
    "TrackingLink": "protocol",
    "LocalRegistry": "local",
    "ModelRegistry": "protocol",
    "ModelVersion": "protocol",
    "NewVersion": "protocol",
    "SageMakerRegistry": "sagemaker",
    "StatusChange": "local",
    "open_registry": "factory",
}

__all__ = [
    "ApprovalStatus",
    "BiasRecord",
    "LocalRegistry",
    "ModelRegistry",
    "ModelVersion",
    "NewVersion",
    "SageMakerRegistry",
    "StatusChange",
    "TrackingLink",
    "open_registry",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
