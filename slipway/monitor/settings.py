"""Where ``slipway monitor`` keeps its files (``SLIPWAY_MONITOR_*``, through ``load_settings``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitorSettings(BaseSettings):
    """Folders and bounds of monitoring runs.

    Attributes:
        monitor_dir: Root of the runs' files (``<monitor_dir>/runs/<env>/<model>/<time>/``
            when ``--out`` is not given) and of the default ground-truth folder.
        monitor_ground_truth_dir: Ground-truth root (``<root>/<endpoint>/yyyy/mm/dd/hh/``,
            SageMaker's layout); default ``<monitor_dir>/ground-truth``.
        monitor_ground_truth_s3: Keep ground truth in S3 instead (an ``s3://`` prefix, same
            layout): ``labels`` uploads there, ``run`` reads from there.
        monitor_workers: Processes that parse capture files (``load_window``'s ``workers``).
    """

    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore", env_ignore_empty=True)

    monitor_dir: Path = Field(default=Path(".slipway/monitor"))
    monitor_ground_truth_dir: Path | None = None
    monitor_ground_truth_s3: str | None = Field(
        default=None, pattern=r"^s3://[a-z0-9.\-]{3,63}(/\S*)?$"
    )
    monitor_workers: int = Field(default=1, ge=1, le=32)

    @property
    def ground_truth_dir(self) -> Path:
        """The ground-truth root."""
        return self.monitor_ground_truth_dir or self.monitor_dir / "ground-truth"

    @property
    def runs_dir(self) -> Path:
        """Default root of the runs' files."""
        return self.monitor_dir / "runs"
