"""The model registry: a protocol with a local (embedded) and a SageMaker implementation."""

from model_build.registry.factory import open_registry
from model_build.registry.local import LocalRegistry, StatusChange
from model_build.registry.protocol import ApprovalStatus, ModelRegistry, ModelVersion, NewVersion
from model_build.registry.sagemaker import SageMakerRegistry

__all__ = [
    "ApprovalStatus",
    "LocalRegistry",
    "ModelRegistry",
    "ModelVersion",
    "NewVersion",
    "SageMakerRegistry",
    "StatusChange",
    "open_registry",
]
