"""Synthetic driver traffic for demos, tests and benchmarks (seeded, no files, no network).

:func:`driver_frame` draws rows like the demo's driver features: 11 numeric features (rates,
counts, a balance with 2% missing values, skewed counts) and 3 categorical ones, plus a score
from a fixed logistic model (:func:`driver_scores`). ``shift`` moves chosen numeric features
by a number of their standard deviations, the way a drifting upstream source would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

NUMERIC: Final = (
    "conv_rate",
    "acc_rate",
    "avg_daily_trips",
    "rating",
    "cancel_rate",
    "online_hours",
    "current_balance",
    "avg_passenger_count",
    "lifetime_trip_count",
    "tenure_days",
    "trip_distance_km",
)
CATEGORICAL: Final = ("customer_segment", "city", "vehicle_type")
FEATURES: Final = (*NUMERIC, *CATEGORICAL)
SEGMENTS: Final = ("standard", "plus", "business")
CITIES: Final = ("lisbon", "porto", "braga", "faro", "coimbra", "aveiro")
VEHICLES: Final = ("car", "van", "bike", "scooter")
IMPORTANT: Final = "conv_rate"
"""The feature with the largest weight in :func:`driver_scores`."""


def driver_frame(rows: int, *, seed: int, shift: Mapping[str, float] | None = None) -> pd.DataFrame:
    """``rows`` synthetic driver rows; ``shift`` maps numeric features to a move in std units."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    balance = rng.normal(50.0, 20.0, rows)
    balance[rng.random(rows) < 0.02] = np.nan
    data: dict[str, npt.NDArray[np.generic]] = {
        "conv_rate": rng.beta(4.0, 6.0, rows),
        "acc_rate": rng.beta(8.0, 2.0, rows),
        "avg_daily_trips": rng.poisson(12.0, rows).astype(np.int64),
        "rating": np.clip(rng.normal(4.3, 0.4, rows), 1.0, 5.0),
        "cancel_rate": rng.beta(1.5, 20.0, rows),
        "online_hours": rng.integers(0, 24, rows),
        "current_balance": balance,
        "avg_passenger_count": 1.0 + rng.gamma(2.0, 0.4, rows),
        "lifetime_trip_count": np.round(rng.lognormal(6.0, 1.0, rows)).astype(np.int64),
        "tenure_days": rng.integers(1, 2000, rows),
        "trip_distance_km": rng.gamma(2.0, 4.0, rows),
        "customer_segment": rng.choice(np.array(SEGMENTS), rows, p=[0.6, 0.3, 0.1]),
        "city": rng.choice(np.array(CITIES), rows, p=[0.3, 0.25, 0.15, 0.1, 0.1, 0.1]),
        "vehicle_type": rng.choice(np.array(VEHICLES), rows, p=[0.7, 0.15, 0.1, 0.05]),
    }
    frame = pd.DataFrame(data)
    for name, moves in (shift or {}).items():
        column = frame[name].astype(np.float64)
        frame[name] = column + moves * float(np.nanstd(column))
    return frame[list(FEATURES)]


def driver_scores(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The positive-class probability of a fixed logistic model of the driver features."""
    import numpy as np

    logit = (
        6.0 * (frame["conv_rate"].to_numpy(dtype=np.float64) - 0.4)
        - 8.0 * (frame["cancel_rate"].to_numpy(dtype=np.float64) - 0.07)
        + 1.5 * (frame["rating"].to_numpy(dtype=np.float64) - 4.3)
        + 0.6 * (frame["customer_segment"].to_numpy() == "plus")
    )
    return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=np.float64)


def driver_labels(
    scores: npt.NDArray[np.float64], *, threshold: float = 0.5
) -> npt.NDArray[np.int64]:
    """Predicted classes: 1 at or above ``threshold``."""
    import numpy as np

    return (scores >= threshold).astype(np.int64)
