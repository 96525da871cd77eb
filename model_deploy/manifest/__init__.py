"""Environment manifests: the schema (pydantic), the line-aware loader and the JSON Schema."""

from model_deploy.manifest.loader import LoadedManifest, load_manifest, parse_manifest
from model_deploy.manifest.model import (
    AllAtOnce,
    Canary,
    Linear,
    LocalTargetSpec,
    Manifest,
    ModelRef,
    SageMakerTargetSpec,
    SmokeCase,
)

__all__ = [
    "AllAtOnce",
    "Canary",
    "Linear",
    "LoadedManifest",
    "LocalTargetSpec",
    "Manifest",
    "ModelRef",
    "SageMakerTargetSpec",
    "SmokeCase",
    "load_manifest",
    "parse_manifest",
]
