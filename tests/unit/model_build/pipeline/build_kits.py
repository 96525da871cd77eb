"""Model definitions and synthetic training sets per task for the build tests (no Feast).

Every frame is drawn from a seeded generator: the same call gives the same rows, so the same
definition gives the same bundle digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from model_build.definition.catalog import MODELS_DIR
from model_build.definition.loader import load_definition
from model_build.definition.schema import ModelDefinition
from model_build.pipeline.steps.training_set import (
    FeatureServiceInfo,
    TrainingSet,
    canonical_frame,
    frame_digest,
)

DRIVER_RANKING = MODELS_DIR / "driver_ranking"
INFO = FeatureServiceInfo(
    name="toy_v1",
    features=["x1", "x2", "segment"],
    categorical=["segment"],
    entity_keys=["driver_id"],
    request_fields=["distance"],
    sources=["driver_hourly_stats"],
)
SEGMENTS = ("standard", "plus", "business")


def driver_ranking() -> ModelDefinition:
    """The checked-in driver ranking definition."""
    return load_definition(path=DRIVER_RANKING)


def definition_doc(task: str, **train: Any) -> dict[str, Any]:
    """A small definition document for ``task`` (fast to train), ``train`` overriding keys."""
    gate: dict[str, Any] = (
        {"thresholds": {"rmse": 50.0}, "serving_tolerance": {"rmse": 0.5}}
        if task == "regression"
        else {"thresholds": {"roc_auc": 0.6}, "serving_tolerance": {"roc_auc": 0.01}}
    )
    return {
        "model": {"name": f"toy_{task}", "task": task, "feature_service": "toy_v1"},
        "data": {
            "entity_source": "trips",
            "label": "label" if task != "regression" else "fare",
            "id_column": "trip_id",
            "holdout_fraction": 0.2,
        },
        "train": {
            "seed": 7,
            "n_threads": 1,
            "estimator": "hist_gradient_boosting",
            "hyperparameters": {
                "learning_rate": 0.1, "max_iter": 30, "max_leaf_nodes": 15,
                "min_samples_leaf": 10, "l2_regularization": 0.0,
            },
            **train,
        },
        "evaluate": {"calibration_bins": 10, "permutation_repeats": 2},
        "gate": gate,
        "sagemaker": {"pipeline_name": f"toy-{task}", "prefix": f"toy/{task}"},
    }  # fmt: skip


def write_model(root: Path, doc: dict[str, Any], *, code: dict[str, str] | None = None) -> Path:
    """Write ``<root>/<model name>/model.yaml`` (plus ``code`` files); return the folder."""
    folder = root / str(doc["model"]["name"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    for name, text in (code or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def toy_definition(root: Path, task: str, **train: Any) -> ModelDefinition:
    """A toy definition written under ``root`` and loaded back (so it has a folder)."""
    return load_definition(path=write_model(root, definition_doc(task, **train)))


def training_set(task: str = "binary", *, rows: int = 1200, seed: int = 3) -> TrainingSet:
    """Labelled rows with a learnable signal: 0/1, three string classes, or a float fare."""
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 10 * 24 * 3600, rows)), unit="s"
    )
    segment = rng.choice(list(SEGMENTS), rows).astype(object)
    segment[::97] = None
    frame = pd.DataFrame(
        {
            "trip_id": np.arange(rows, dtype=np.int64),
            "driver_id": rng.integers(1000, 1010, rows),
            "event_timestamp": times,
            "distance": rng.lognormal(1.5, 0.5, rows),
            "x1": rng.normal(size=rows).astype(np.float32),
            "x2": rng.integers(0, 30, rows),
            "segment": segment,
        }
    )
    noise = rng.normal(0, 0.5, rows)
    logit = 1.5 * frame["x1"] - 0.8 * np.log(frame["distance"]) + (frame["segment"] == "plus")
    label_name = "label"
    if task == "binary":
        frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    elif task == "multiclass":
        score = logit + noise
        frame["label"] = np.where(score > 0.5, "high", np.where(score < -0.8, "low", "mid"))
    else:
        label_name = "fare"
        frame["fare"] = 3.0 + 1.7 * frame["distance"] + 2.0 * frame["x1"] + noise
    frame = canonical_frame(
        frame, columns=list(frame.columns), order=["event_timestamp", "trip_id"]
    )
    return TrainingSet(
        frame=frame,
        info=INFO,
        label=label_name,
        timestamp="event_timestamp",
        id_column="trip_id",
        data_hash=frame_digest(frame),
    )
