"""Demo Feast repos for the feature server's tests and benchmark: copied, applied, materialized.

A repo is a copy of the checked-in ``feature_repo/`` (definitions, configs and suites, not its
data) in a temporary folder, with demo data written by ``feature_store.demo_data`` and loaded
into the online store by Feast itself (``apply`` then ``materialize``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feature_store.demo_data import DemoSizes, write_demo_data
from feature_store.materialization import materialize
from feature_store.registry_sync import apply
from feature_store.repo import FeatureRepo
from feature_store.settings import FeatureEnv

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 11, 1, tzinfo=UTC)
"""The end of the demo data and of every materialization window here."""


def copy_repo(
    target: Path,
    *,
    sizes: DemoSizes,
    seed: int,
    env: FeatureEnv = "local",
    definitions: Mapping[str, str] | None = None,
) -> FeatureRepo:
    """Copy the checked-in repo to ``target`` and write its demo data (nothing applied yet).

    ``definitions`` adds Python files (name to source) next to ``definitions.py``.
    """
    shutil.copytree(
        ROOT / "feature_repo", target, ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    write_demo_data(out_dir=target / "data", sizes=sizes, seed=seed, end=END)
    for name, source in (definitions or {}).items():
        (target / name).write_text(source, encoding="utf-8")
    return FeatureRepo(path=target, env=env)


def load_repo(repo: FeatureRepo, *, days: int = 3) -> None:
    """Apply the definitions and materialize the last ``days`` days (the data gate is off)."""
    apply(repo=repo)
    materialize_window(repo, days=days)


def materialize_window(repo: FeatureRepo, *, days: int = 3) -> None:
    """Materialize ``END - days`` to ``END`` again (the gate is off: the data is generated)."""
    materialize(repo=repo, start=END - timedelta(days=days), end=END, validate=False)


def demo_repo(
    target: Path, *, sizes: DemoSizes, seed: int, env: FeatureEnv = "local", days: int = 3
) -> FeatureRepo:
    """``copy_repo`` then ``load_repo``: a repo whose online store is ready to serve."""
    repo = copy_repo(target, sizes=sizes, seed=seed, env=env)
    load_repo(repo, days=days)
    return repo


DRIVER_FLOATS = ("conv_rate", "acc_rate", "rating", "cancel_rate")
DRIVER_INTS = ("avg_daily_trips", "online_hours")
DRIVER_FEATURES = (
    "conv_rate",
    "acc_rate",
    "avg_daily_trips",
    "rating",
    "cancel_rate",
    "online_hours",
)
"""The features of ``driver_hourly_stats`` in schema order."""


def driver_frame(ids: Sequence[int], *, stamp: Any, **columns: Sequence[object]) -> Any:
    """A frame for Feast's ``write_to_online_store("driver_hourly_stats", ...)``.

    Every feature column is there: the ones given in ``columns`` (one value per id; None is a
    null), 0.5 for the other float features and 1 for the other integer ones. ``stamp`` (a
    ``pandas.Timestamp``) is the event and created time of every row.

    Raises:
        TypeError: A column is not a feature of the view.
    """
    import pandas as pd

    unknown = sorted(set(columns) - set(DRIVER_FEATURES))
    if unknown:
        raise TypeError(f"not driver_hourly_stats features: {unknown}")
    rows = len(ids)
    floats = {name: list(columns.get(name, [0.5] * rows)) for name in DRIVER_FLOATS}
    ints = {
        name: pd.array(list(columns.get(name, [1] * rows)), dtype="Int64") for name in DRIVER_INTS
    }
    return pd.DataFrame(
        {
            "driver_id": list(ids),
            **floats,
            **ints,
            "event_timestamp": [stamp] * rows,
            "created": [stamp] * rows,
        }
    )
