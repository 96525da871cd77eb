"""Model bundles for the inference server tests: real sklearn pipelines fitted on random data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from model_bundle.bundle import ModelBundle, load_bundle, save_bundle

FEATURES = [
    "conv_rate",
    "acc_rate",
    "avg_daily_trips",
    "rating",
    "cancel_rate",
    "online_hours",
    "current_balance",
    "avg_passenger_count",
    "lifetime_trip_count",
    "customer_segment",
    "tenure_days",
    "pickup_score",
    "distance_per_daily_trip",
    "trip_distance_km",
]
NUMERIC = [f for f in FEATURES if f != "customer_segment"]
SEGMENTS = ["standard", "plus", "business"]
REF = "driver_ranking:3"


def make_frame(rows: int, *, seed: int) -> pd.DataFrame:
    """Random feature rows in the bundle's feature order (ints stay ints, like Feast)."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {
        "conv_rate": rng.uniform(0, 1, rows),
        "acc_rate": rng.uniform(0, 1, rows),
        "avg_daily_trips": rng.integers(0, 40, rows),
        "rating": rng.uniform(1, 5, rows),
        "cancel_rate": rng.uniform(0, 0.3, rows),
        "online_hours": rng.integers(0, 24, rows),
        "current_balance": rng.normal(50, 20, rows),
        "avg_passenger_count": rng.uniform(1, 4, rows),
        "lifetime_trip_count": rng.integers(0, 5000, rows),
        "customer_segment": rng.choice(SEGMENTS, rows),
        "tenure_days": rng.integers(1, 2000, rows),
        "pickup_score": rng.uniform(0, 1, rows),
        "distance_per_daily_trip": rng.uniform(0, 3, rows),
        "trip_distance_km": rng.uniform(0.5, 40, rows),
    }
    return pd.DataFrame(data)[FEATURES]


def fit_pipeline(kind: str = "logreg", *, handle_unknown: str = "ignore", seed: int = 0) -> Any:
    """A fitted Pipeline(ColumnTransformer(scaler, one-hot), classifier)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = make_frame(400, seed=seed)
    rng = np.random.default_rng(seed + 1)
    logit = (
        3 * frame["conv_rate"] - 2 * frame["cancel_rate"] + (frame["customer_segment"] == "plus")
    )
    label = (logit + rng.normal(0, 1, len(frame)) > 1.2).astype(int)
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown=handle_unknown), ["customer_segment"]),
        ]
    )
    clf: Any = (
        LogisticRegression(max_iter=500)
        if kind == "logreg"
        else HistGradientBoostingClassifier(max_iter=30, random_state=seed)
    )
    with threadpool_limits(limits=1):  # tiny fits are much faster single-threaded
        return Pipeline([("prep", prep), ("clf", clf)]).fit(frame, label)


def write_bundle(
    directory: Path,
    *,
    kind: str = "logreg",
    handle_unknown: str = "ignore",
    threshold: float = 0.5,
    metadata: dict[str, Any] | None = None,
    background: pd.DataFrame | None = None,
) -> Path:
    save_bundle(
        ModelBundle(
            estimator=fit_pipeline(kind, handle_unknown=handle_unknown),
            features=list(FEATURES),
            threshold=threshold,
            metadata=metadata or {"model_name": "driver_ranking", "version": 3},
            background=background,
        ),
        directory=directory,
    )
    return directory


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records (Python scalars)."""
    return [
        {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def expected_probabilities(bundle_dir: Path, frame: pd.DataFrame) -> np.ndarray:
    """What the in-process model says for the same rows."""
    bundle = load_bundle(directory=bundle_dir)
    return np.asarray(bundle.estimator.predict_proba(frame[bundle.features])[:, 1])


MULTICLASS = ["economy", "comfort", "premium"]  # deliberately not sorted alphabetically


def write_task_bundle(directory: Path, *, task: str, seed: int = 0) -> Path:
    """A bundle of ``task`` as the build writes it: task and classes recorded in bundle.json.

    Classifiers are fitted on class codes 0..K-1 (like the build); regression on a float.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from model_bundle.task import Task

    frame = make_frame(400, seed=seed)
    rng = np.random.default_rng(seed + 1)
    score = 3 * frame["conv_rate"] - 2 * frame["cancel_rate"] + rng.normal(0, 0.5, len(frame))
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["customer_segment"]),
        ]
    )
    classes: list[Any] | None
    if task == "regression":
        target = 2.5 + 1.4 * frame["trip_distance_km"] + score
        model: Any = HistGradientBoostingRegressor(max_iter=30, random_state=seed)
        classes, threshold = None, None
    elif task == "multiclass":
        target = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
        model = LogisticRegression(max_iter=500)
        classes, threshold = list(MULTICLASS), None
    else:
        target = (score > 1.0).astype(int)
        model = LogisticRegression(max_iter=500)
        classes, threshold = ["stay", "churn"], 0.4
    with threadpool_limits(limits=1):
        fitted = Pipeline([("prep", prep), ("model", model)]).fit(frame, target)
    save_bundle(
        ModelBundle(
            estimator=fitted,
            features=list(FEATURES),
            threshold=threshold,
            metadata={"model_name": f"toy_{task}", "version": 1},
            task=Task(task),
            classes=classes,
        ),
        directory=directory,
    )
    return directory
