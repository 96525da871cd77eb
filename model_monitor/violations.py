"""Check a captured window against ``constraints.json``, giving ``constraint_violations.json``.

Output::

    {"violations": [{"feature_name": ..., "constraint_check_type": ..., "description": ...}]}

The checks (thresholds from the constraints' ``monitoring_config``):

* ``missing_column_check``: a constrained column is absent from the window.
* ``extra_column_check``: the window has a column the constraints do not know (metadata
  columns excepted, and the empty ``predicted_label`` of a regressor's window).
* ``data_type_check``: the share of present values of the wrong type is above
  ``datatype_check_threshold``. Integral wants whole numbers, Fractional any number, String
  text. A column the baseline found non-negative (``is_non_negative``) whose share of
  negative values is above the same threshold is reported under this check too.
* ``completeness_check``: the share of present values is below the constraint's
  ``completeness`` by more than the allowance: ``max(completeness_tolerance,
  3 * sqrt(c * (1 - c) / n))`` (three binomial standard errors, so a window of ordinary size
  does not trip over sampling noise).
* ``categorical_values_check``: the share of present values outside the column's domain is
  above ``domain_content_threshold``.
* ``baseline_drift_check``: a column the drift tests found drifted (:mod:`model_monitor.drift`),
  when ``distribution_constraints.perform_comparison`` is Enabled.

``evaluate_constraints: Disabled`` turns off every check but the drift check. An empty window
gives no violations (there is nothing to check; the run reports the empty window instead).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.files import write_json_atomic
from model_monitor.columns import META_COLUMNS, PREDICTED_LABEL, InferredType
from model_monitor.constraints import Constraints, FeatureConstraint
from model_monitor.drift import DriftResult
from model_monitor.statistics import numbers

if TYPE_CHECKING:
    import pandas as pd

DATA_TYPE: Final = "data_type_check"
COMPLETENESS: Final = "completeness_check"
BASELINE_DRIFT: Final = "baseline_drift_check"
MISSING_COLUMN: Final = "missing_column_check"
EXTRA_COLUMN: Final = "extra_column_check"
CATEGORICAL_VALUES: Final = "categorical_values_check"
CHECK_TYPES: Final = (
    DATA_TYPE,
    COMPLETENESS,
    BASELINE_DRIFT,
    MISSING_COLUMN,
    EXTRA_COLUMN,
    CATEGORICAL_VALUES,
)
VIOLATIONS_FILE: Final = "constraint_violations.json"


@dataclass(frozen=True)
class Violation:
    """One entry of ``constraint_violations.json``."""

    feature_name: str
    constraint_check_type: str
    description: str

    def to_json(self) -> dict[str, str]:
        """The violation object."""
        return {
            "feature_name": self.feature_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


def check_constraints(
    frame: pd.DataFrame,
    *,
    constraints: Constraints,
    drift: DriftResult | None = None,
    completeness_tolerance: float = 0.01,
) -> list[Violation]:
    """Every violation of ``constraints`` by ``frame`` (see the module docs), in column order."""
    config = constraints.monitoring_config
    found: list[Violation] = []
    if len(frame) and config.evaluate_constraints:
        known = {f.name for f in constraints.features}
        for feature in constraints.features:
            if feature.name not in frame.columns:
                found.append(
                    Violation(
                        feature.name,
                        MISSING_COLUMN,
                        f"Column {feature.name} is in the baseline constraints but missing "
                        "from the current data",
                    )
                )
                continue
            found.extend(
                _column_checks(
                    frame[feature.name],
                    feature,
                    datatype_threshold=config.datatype_check_threshold,
                    domain_threshold=config.domain_content_threshold,
                    tolerance=completeness_tolerance,
                )
            )
        for name in frame.columns:
            if name in known or name in META_COLUMNS:
                continue
            if name == PREDICTED_LABEL and frame[name].isna().all():
                continue  # a regressor answers no label: the window's empty label column
            found.append(
                Violation(
                    str(name),
                    EXTRA_COLUMN,
                    f"Column {name} is in the current data but not in the baseline constraints",
                )
            )
    if drift is not None and config.perform_comparison:
        found.extend(
            Violation(column.column, BASELINE_DRIFT, column.describe()) for column in drift.drifted
        )
    return found


def violations_document(violations: Iterable[Violation]) -> dict[str, Any]:
    """The ``constraint_violations.json`` document."""
    return {"violations": [v.to_json() for v in violations]}


def write_violations(*, path: Path, violations: Sequence[Violation]) -> None:
    """Write ``constraint_violations.json`` atomically."""
    write_json_atomic(path, violations_document(violations))


def _column_checks(
    values: pd.Series,
    feature: FeatureConstraint,
    *,
    datatype_threshold: float,
    domain_threshold: float,
    tolerance: float,
) -> list[Violation]:
    """The data type, completeness and domain checks of one present column."""
    import numpy as np

    found: list[Violation] = []
    name = feature.name
    total = len(values)
    present_mask = values.notna().to_numpy()
    present = int(present_mask.sum())
    kind = feature.inferred_type
    if present and kind is not InferredType.UNKNOWN:
        wrong = _wrong_type_count(values[present_mask], kind)
        share = wrong / present
        if share > datatype_threshold:
            found.append(
                Violation(
                    name,
                    DATA_TYPE,
                    f"Data type match requirement is not met. Expected data type: {kind.value}, "
                    f"{wrong} of {present} values ({share:.2%}) are of another type, above "
                    f"the threshold {datatype_threshold:g}",
                )
            )
        if kind.numeric and feature.is_non_negative:
            floats = numbers(values)
            negative = int(np.sum(floats < 0))
            if negative / present > datatype_threshold:
                found.append(
                    Violation(
                        name,
                        DATA_TYPE,
                        f"{negative} of {present} values are negative but the baseline is "
                        "non-negative (is_non_negative), above the threshold "
                        f"{datatype_threshold:g}",
                    )
                )
    observed = present / total
    expected = feature.completeness
    allowance = max(tolerance, 3 * math.sqrt(expected * (1 - expected) / total))
    if observed < expected - allowance:
        found.append(
            Violation(
                name,
                COMPLETENESS,
                f"Data completeness requirement is not met. Expected completeness: {expected:.4g}, "
                f"observed: {observed:.4g} (allowance {allowance:.3g})",
            )
        )
    if feature.domains is not None and present and kind is InferredType.STRING:
        domain = set(feature.domains)
        cells = values[present_mask]
        outside = int((~cells.astype(str).isin(domain)).sum())
        share = outside / present
        if share > domain_threshold:
            examples = sorted({str(v) for v in cells if str(v) not in domain})[:5]
            found.append(
                Violation(
                    name,
                    CATEGORICAL_VALUES,
                    f"Data content requirement is not met: {outside} of {present} values "
                    f"({share:.2%}) are outside the baseline domain, above the threshold "
                    f"{domain_threshold:g} (e.g. {', '.join(examples)})",
                )
            )
    return found


def _wrong_type_count(present: pd.Series, kind: InferredType) -> int:
    """How many present values do not have the expected type."""
    import numpy as np
    import pandas as pd

    dtype = present.dtype
    if kind is InferredType.STRING:
        if pd.api.types.infer_dtype(present, skipna=True) == "string":
            return 0
        if pd.api.types.is_object_dtype(dtype):
            return int(sum(1 for v in present if not isinstance(v, str)))
        return len(present)
    numeric_dtype = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if numeric_dtype:
        if kind is InferredType.INTEGRAL:
            floats = present.to_numpy(dtype=np.float64)
            finite = np.isfinite(floats)
            return int(np.sum(finite & (floats != np.round(floats))) + np.sum(~finite))
        return 0
    floats = numbers(present)
    wrong = int(np.sum(np.isnan(floats)))
    if kind is InferredType.INTEGRAL:
        ok = floats[~np.isnan(floats)]
        wrong += int(np.sum(ok != np.round(ok)))
    return wrong
