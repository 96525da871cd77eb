"""Errors raised by the model_build area (pipeline, gate, registry)."""

from __future__ import annotations

from foundation.errors import SlipwayError


class BuildError(SlipwayError):
    """Base class for every error raised by the model_build area."""


class RegistryError(BuildError):
    """The model registry refused or failed an operation."""


class VersionNotFoundError(RegistryError):
    """No such model or version in the registry."""


class InvalidTransitionError(RegistryError):
    """An approval status change that is not allowed (e.g. approving a rejected version)."""


class PipelineError(BuildError):
    """A pipeline step failed; the message names the step."""


class GateFailedError(BuildError):
    """The candidate model did not pass the evaluation gate; the message gives the numbers."""


class TrackingError(BuildError):
    """The experiment tracking store (MLflow) refused or failed; the message names its URI."""


class BatchError(BuildError):
    """A batch scoring job failed; the message names the input, chunk or model at fault."""
