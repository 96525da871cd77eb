"""Evidently's own HTML report of a run's drift tests (self-contained, no network assets)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from model_monitor.columns import ColumnSpec, Schema
from model_monitor.drift import DriftResult, bounded_window, category_text
from model_monitor.drift_config import DriftConfig
from model_monitor.statistics import numbers

if TYPE_CHECKING:
    import pandas as pd


def drift_report_html(
    *,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    schema: Schema,
    result: DriftResult,
    path: Path,
    columns: Sequence[str] | None = None,
    config: DriftConfig | None = None,
) -> None:
    """Save Evidently's own HTML report of the same drift tests (self-contained, no network).

    One ``ValueDrift`` metric per criterion of each tested column (of ``columns``, default
    all), with the method and threshold the result used, on the same sample of the window
    (pass the drift run's ``config``).
    """
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    wanted = [c for c in result.columns if columns is None or c.column in columns]
    if not wanted:
        return
    current = bounded_window(current, config or DriftConfig())
    specs = {c.column: schema.column(c.column) for c in wanted}
    frames = {}
    for label, frame in (("current", current), ("reference", reference)):
        frames[label] = pd.DataFrame(
            {name: _aligned(frame[name], spec) for name, spec in specs.items()}
        )
    definition = DataDefinition(
        numerical_columns=[n for n, s in specs.items() if not s.categorical],
        categorical_columns=[n for n, s in specs.items() if s.categorical],
    )
    metrics = [
        ValueDrift(column=c.column, method=criterion.method, threshold=criterion.threshold)
        for c in wanted
        for criterion in c.criteria
    ]
    snapshot = Report(metrics, include_tests=True).run(
        current_data=Dataset.from_pandas(frames["current"], data_definition=definition),
        reference_data=Dataset.from_pandas(frames["reference"], data_definition=definition),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(path))


def _aligned(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """A column for Evidently's report: numbers as float64, categories as text, index kept."""
    import pandas as pd

    if not spec.categorical:
        return pd.Series(numbers(values), dtype="float64")
    return pd.Series(
        [None if v is None or v != v else category_text(v) for v in values], dtype=object
    )
