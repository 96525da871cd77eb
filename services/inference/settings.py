"""Data capture settings of the inference server (prefix ``SLIPWAY_CAPTURE_``), off by default.

Capture is on when ``SLIPWAY_CAPTURE_DIR`` (or ``--capture-dir``) names a folder: every
successful ``/invocations`` request is then offered to a
:class:`model_monitor.writer.CaptureWriter`, which samples ``SLIPWAY_CAPTURE_PERCENT`` of them
and writes SageMaker's capture records under
``<dir>/<endpoint name>/<variant name>/yyyy/mm/dd/hh/`` from a background thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.settings import load_settings
from model_monitor.capture import DEFAULT_VARIANT

ENV_PREFIX: Final = "SLIPWAY_CAPTURE_"
DEFAULT_ENDPOINT: Final = "local"


class CaptureSettings(BaseSettings):
    """Where and how much the inference server captures.

    Attributes:
        dir: Capture root (SageMaker's ``DestinationS3Uri``, here a folder); unset: no capture.
        percent: Share of requests captured, 0 to 100 (SageMaker's
            ``InitialSamplingPercentage``, whose SDK default is 20; a local server usually
            wants everything, hence 100).
        endpoint_name: First folder under ``dir``.
        variant_name: Second folder (SageMaker's default variant is ``AllTraffic``).
        queue_size: Requests waiting to be written before new ones are dropped (and counted).
        max_file_mb: Size past which a capture file is rotated.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    dir: Path | None = None
    percent: float = Field(default=100.0, ge=0, le=100)
    endpoint_name: str = Field(default=DEFAULT_ENDPOINT, min_length=1, pattern=r"^[^/\\]+$")
    variant_name: str = Field(default=DEFAULT_VARIANT, min_length=1, pattern=r"^[^/\\]+$")
    queue_size: int = Field(default=10_000, ge=1, le=10_000_000)
    max_file_mb: int = Field(default=64, ge=1, le=4096)

    @property
    def enabled(self) -> bool:
        """Whether capture is on (a folder is set)."""
        return self.dir is not None


def load_capture_settings(**overrides: Any) -> CaptureSettings:
    """Read the capture settings from the environment; non-None ``overrides`` (flags) win.

    Raises:
        SettingsError: A variable is invalid; the message names it.
    """
    return load_settings(CaptureSettings, **overrides)
