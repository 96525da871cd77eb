"""The main job's batch scoring: a small ``slipway predict batch`` beside the promotions."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from slipway.demo.commands import LoopPaths, Started, finish, start

ROWS: Final = 1000
"""Entity rows scored (the newest trips of the demo data)."""
ENTITY_COLUMNS: Final = ("driver_id", "customer_id", "trip_distance_km", "event_timestamp")


@dataclass(frozen=True)
class BatchRun:
    """A batch scoring started in the background (see :func:`start_batch`)."""

    started: Started
    model: str
    output: Path


def start_batch(paths: LoopPaths, *, model: str, trips: Path) -> BatchRun:
    """Start ``slipway predict batch`` of the newest :data:`ROWS` trips with ``model``.

    It reads point-in-time features from the offline store and the version from the registry
    only, so it runs while the promotions go on. The folder ``<root>/batch`` is replaced.
    """
    import pandas as pd

    folder = paths.root / "batch"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    entities = folder / "entities.parquet"
    frame = pd.read_parquet(trips, columns=list(ENTITY_COLUMNS))
    frame.sort_values("event_timestamp").tail(ROWS).to_parquet(entities, index=False)
    output = folder / "scored.parquet"
    started = start(
        paths,
        "predict", "batch",
        "--model", model,
        "--input", str(entities),
        "--output", str(output),
        "--registry-path", str(paths.registry),
        "--format", "json",
    )  # fmt: skip
    return BatchRun(started=started, model=model, output=output)


def finish_batch(batch: BatchRun) -> dict[str, Any]:
    """Wait for the scoring; its ``--format json`` result.

    Raises:
        DemoError: The command failed.
    """
    result: dict[str, Any] = json.loads(finish(batch.started))
    return result
