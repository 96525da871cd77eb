"""The record of one build run: its folder, step timings, progress lines and ``run.json``.

``run.json`` is written when the run ends, whatever its status (``registered``, ``passed``,
``blocked`` or ``failed``), with the environment's library versions and every warning.
"""

from __future__ import annotations

import platform
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from foundation.files import write_json_atomic
from foundation.progress import StepReporter

T = TypeVar("T")
Status = Literal["registered", "passed", "blocked", "failed"]


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: ``<UTC time>-<6 hex>``, e.g. ``20261101T120000Z-3fa2c1``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunRecord:
    """Timings, progress lines and ``run.json`` of one run (its folder is created here)."""

    def __init__(self, *, run_id: str, run_dir: Path, progress: StepReporter) -> None:
        self.run_id = run_id
        self.folder = run_dir / run_id
        self.folder.mkdir(parents=True, exist_ok=False)
        self.started = time.perf_counter()
        self.started_at = datetime.now(UTC)
        self.timings: dict[str, float] = {}
        self.summary: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.progress = progress

    def warn(self, *warnings: str) -> None:
        """Record fallbacks the build took (shown in the result and in ``run.json``)."""
        self.warnings.extend(warnings)

    def step(self, name: str, label: str, action: Callable[[], T]) -> T:
        """Run ``action`` as step ``name``: timed, reported to the progress, failure recorded."""
        self.progress.started(name, label)
        began = time.perf_counter()
        try:
            value = action()
        except Exception:
            self.summary["failed_step"] = name
            self.timings[name] = round(time.perf_counter() - began, 3)
            self.progress.finished(name, label, ok=False, seconds=self.timings[name])
            raise
        self.timings[name] = round(time.perf_counter() - began, 3)
        self.progress.finished(name, label, ok=True, seconds=self.timings[name])
        return value

    def finish(self, *, status: Status, error: str | None = None) -> float:
        """Write ``run.json`` with ``status`` (and ``error``); return the run's seconds."""
        seconds = round(time.perf_counter() - self.started, 3)
        document = {
            "run_id": self.run_id,
            "status": status,
            "error": error,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "seconds": seconds,
            "timings": self.timings,
            "environment": _environment(),
            "warnings": self.warnings,
            **self.summary,
        }
        write_json_atomic(self.folder / "run.json", document)
        return seconds


def _environment() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": str(sklearn.__version__),
    }
