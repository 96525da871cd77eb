"""Manifest sections about checks: smoke tests, metric thresholds and freeze windows."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def at_least(value: Any, info: ValidationInfo, *, low_field: str) -> Any:
    """``value`` when it is not below the already validated ``low_field``, else a ValueError."""
    low = info.data.get(low_field)
    if isinstance(low, int | float) and value < low:
        raise ValueError(f"must be at least {low_field} ({low}), got {value}")
    return value


def no_repeats(names: list[str], *, what: str) -> None:
    """Raise a ValueError naming every name that appears more than once."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{what} repeat: {', '.join(repeated)}")


class ProbabilityRange(BaseModel):
    """Bounds every predicted probability must fall in.

    Attributes:
        min: Lower bound (0 to 1).
        max: Upper bound (0 to 1, at least ``min``).
    """

    model_config = _STRICT

    min: float = Field(default=0.0, ge=0, le=1)
    max: float = Field(default=1.0, ge=0, le=1)

    @field_validator("max")
    @classmethod
    def _max_at_least_min(cls, value: float, info: ValidationInfo) -> float:
        return float(at_least(value, info, low_field="min"))


class ValueRange(BaseModel):
    """Bounds a regression model's prediction must fall in (either may be left out).

    Attributes:
        min: Lowest acceptable prediction.
        max: Highest acceptable prediction (at least ``min``).
    """

    model_config = _STRICT

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ValueRange:
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


SmokeLabel = int | str


class SmokeExpect(BaseModel):
    """What a smoke test case's answer must look like; which checks apply is the model's task.

    * binary (``{probability, label}``): ``probability`` in ``probability`` (default 0..1),
      ``label`` in ``labels`` (default 0 or 1), and equal to ``label`` when set;
    * multiclass (``{probabilities, label}``): every probability in ``probability`` (default
      0..1), probabilities summing to 1, ``label`` one of the classes answered (and in
      ``labels`` when set), and equal to ``label`` when set;
    * regression (``{prediction}``): a finite ``prediction`` within ``prediction``.

    The ``feature-schema`` policy refuses expectations that do not fit the version's task
    (a ``prediction`` range on a classifier, a ``probability`` on a regression model...).

    Attributes:
        probability: Range of the probability (binary) or of every class probability.
        label: If set, the label every row must get.
        labels: The labels allowed (binary default: 0 and 1).
        prediction: Range every regression prediction must fall in.
    """

    model_config = _STRICT

    probability: ProbabilityRange | None = None
    label: SmokeLabel | None = None
    labels: list[SmokeLabel] | None = Field(default=None, min_length=1, max_length=1000)
    prediction: ValueRange | None = None

    @field_validator("label", mode="before")
    @classmethod
    def _one_label(cls, value: object) -> object:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)):
            raise ValueError(f"must be a whole number or a text (got {value!r})")
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: object) -> object:
        if isinstance(value, list):
            for item in value:
                cls._one_label(item)
        return value

    @model_validator(mode="after")
    def _label_allowed(self) -> SmokeExpect:
        if self.labels is not None and self.label is not None and self.label not in self.labels:
            raise ValueError(f"label {self.label!r} is not one of labels {self.labels}")
        return self


class SmokeCase(BaseModel):
    """One request sent to a new endpoint before it takes traffic.

    Attributes:
        name: Short description, shown in reports.
        instances: Feature rows (feature name to value); the answer must hold one prediction
            per row.
        expect: Checks on every prediction.
    """

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=80)
    instances: list[dict[str, Any]] = Field(min_length=1, max_length=100)
    expect: SmokeExpect = SmokeExpect()

    @field_validator("instances")
    @classmethod
    def _scalar_values(cls, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, row in enumerate(rows):
            if not row:
                raise ValueError(f"row {index} is empty")
            for key, value in row.items():
                if not isinstance(key, str):
                    raise ValueError(f"row {index}: feature names must be strings, got {key!r}")
                if value is not None and not isinstance(value, bool | int | float | str):
                    raise ValueError(
                        f"row {index}: {key} must be a number, a string or null, got "
                        f"{type(value).__name__}"
                    )
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"row {index}: {key} must be finite, got {value}")
        return rows


class MetricThreshold(BaseModel):
    """Bounds on one registry metric of the candidate version.

    Attributes:
        min: The metric must be at least this (e.g. ``roc_auc``).
        max: The metric must be at most this (e.g. ``log_loss``).
    """

    model_config = _STRICT

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> MetricThreshold:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class PolicySettings(BaseModel):
    """Per-environment policy parameters (the rules themselves live in code).

    Attributes:
        thresholds: Metric name to bounds the candidate version must meet.
        max_regression: Metric name to how much worse than the serving version the candidate
            may be (``roc_auc: 0.01``: at most 0.01 lower; ``log_loss: 0.02``: at most 0.02
            higher). Which way is worse comes from the registry's metric definitions.
    """

    model_config = _STRICT

    thresholds: dict[str, MetricThreshold] = Field(default_factory=dict)
    max_regression: dict[str, float] = Field(default_factory=dict)

    @field_validator("max_regression")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for name, allowed in value.items():
            if isinstance(allowed, bool) or not isinstance(allowed, int | float) or allowed < 0:
                raise ValueError(f"{name}: must be a number at least 0, got {allowed!r}")
        return {name: float(allowed) for name, allowed in value.items()}


class Promotion(BaseModel):
    """Where the environment's versions come from.

    Attributes:
        from_env: The environment (``dev``) whose deploy history must show a healthy deploy of
            the candidate version before this environment takes it (``from`` in YAML).
    """

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, populate_by_name=False,
        serialize_by_alias=True,
    )  # fmt: skip

    from_env: str = Field(alias="from", pattern=r"^[a-z][a-z0-9-]{0,31}$")


class BakeChecks(BaseModel):
    """What the new version must hold while it bakes (every canary or linear step's wait).

    Local targets read the router's per-backend counters; SageMaker targets the manifest's
    ``rollback_alarms`` (CloudWatch). A check runs once the new version got ``min_requests``.

    Attributes:
        max_error_rate: Highest share of failed requests (5xx or no answer), 0 to 1.
        max_p99_latency_ms: Highest 99th percentile latency in milliseconds (None: unchecked).
        min_requests: Requests the new version must have served before a rate is judged.
    """

    model_config = _STRICT

    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    max_p99_latency_ms: float | None = Field(default=None, gt=0)
    min_requests: int = Field(default=20, ge=1, le=100_000)


class FreezeWindow(BaseModel):
    """A period when the environment must not change (apply and plan report it).

    Attributes:
        start: Start, with a time zone (``2025-12-20T00:00:00Z``).
        end: End, with a time zone, after ``start``.
        reason: Why (shown in the violation sentence).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(default="freeze window", min_length=1, max_length=200)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _timestamp_only(cls, value: object) -> object:
        if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
            return value
        raise ValueError(
            f"must be a date and time with a time zone, e.g. 2025-12-20T00:00:00Z (got {value!r})"
        )

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if isinstance(start, datetime) and value <= start:
            raise ValueError(f"must be after start ({start.isoformat()})")
        return value
