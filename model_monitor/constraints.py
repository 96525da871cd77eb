"""Model Monitor's ``constraints.json``: what a captured window must satisfy.

::

    {"version": 0,
     "features": [{"name", "inferred_type", "completeness",
                   "num_constraints": {"is_non_negative": bool},
                   "string_constraints": {"domains": [values...]},
                   "monitoringConfigOverrides": {}}],
     "monitoring_config": {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled",
        "datatype_check_threshold": 0.1, "domain_content_threshold": 0.1,
        "distribution_constraints": {"perform_comparison": "Enabled",
            "comparison_threshold": 0.1, "comparison_method": "Simple",
            "categorical_comparison_threshold": 0.1, "categorical_drift_method": "LInfinity"}}}

:func:`suggest_constraints` derives them from baseline statistics, as Model Monitor's baseline
job does: the observed completeness, ``is_non_negative`` when the minimum is not negative, and
the observed values as the domain of a String column with at most ``max_domain`` distinct
values. ``comparison_threshold`` and ``categorical_comparison_threshold`` are the distance
thresholds of the drift check (see :mod:`model_monitor.drift`); ``comparison_method`` and
``categorical_drift_method`` are kept for the format but not used (Evidently's methods are).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from model_monitor.columns import InferredType
from model_monitor.errors import BaselineError

DEFAULT_MAX_DOMAIN: Final = 50


@dataclass(frozen=True)
class MonitoringConfig:
    """``monitoring_config``: thresholds of the checks (Model Monitor's defaults)."""

    evaluate_constraints: bool = True
    emit_metrics: bool = True
    datatype_check_threshold: float = 0.1
    domain_content_threshold: float = 0.1
    perform_comparison: bool = True
    comparison_threshold: float = 0.1
    comparison_method: str = "Simple"
    categorical_comparison_threshold: float = 0.1
    categorical_drift_method: str = "LInfinity"

    def to_json(self) -> dict[str, Any]:
        """The ``monitoring_config`` object."""
        return {
            "evaluate_constraints": _flag(self.evaluate_constraints),
            "emit_metrics": _flag(self.emit_metrics),
            "datatype_check_threshold": self.datatype_check_threshold,
            "domain_content_threshold": self.domain_content_threshold,
            "distribution_constraints": {
                "perform_comparison": _flag(self.perform_comparison),
                "comparison_threshold": self.comparison_threshold,
                "comparison_method": self.comparison_method,
                "categorical_comparison_threshold": self.categorical_comparison_threshold,
                "categorical_drift_method": self.categorical_drift_method,
            },
        }

    @classmethod
    def from_json(cls, doc: Any) -> MonitoringConfig:
        """Parse ``monitoring_config``; absent keys take Model Monitor's defaults.

        Raises:
            BaselineError: A value has the wrong type or a threshold is outside [0, 1].
        """
        if doc is None:
            return cls()
        if not isinstance(doc, dict):
            raise BaselineError("constraints.json: monitoring_config must be an object")
        dist = doc.get("distribution_constraints") or {}
        if not isinstance(dist, dict):
            raise BaselineError("constraints.json: distribution_constraints must be an object")
        base = cls()
        return cls(
            evaluate_constraints=_enabled(doc, "evaluate_constraints", base.evaluate_constraints),
            emit_metrics=_enabled(doc, "emit_metrics", base.emit_metrics),
            datatype_check_threshold=_ratio(doc, "datatype_check_threshold", 0.1),
            domain_content_threshold=_ratio(doc, "domain_content_threshold", 0.1),
            perform_comparison=_enabled(dist, "perform_comparison", base.perform_comparison),
            comparison_threshold=_ratio(dist, "comparison_threshold", 0.1),
            comparison_method=str(
                dist.get("comparison_method", dist.get("comparion_method", "Simple"))
            ),
            categorical_comparison_threshold=_ratio(dist, "categorical_comparison_threshold", 0.1),
            categorical_drift_method=str(dist.get("categorical_drift_method", "LInfinity")),
        )


@dataclass(frozen=True)
class FeatureConstraint:
    """One column's entry in ``constraints.json``."""

    name: str
    inferred_type: InferredType
    completeness: float = 1.0
    is_non_negative: bool | None = None
    domains: tuple[str, ...] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The feature object."""
        doc: dict[str, Any] = {
            "name": self.name,
            "inferred_type": self.inferred_type.value,
            "completeness": self.completeness,
        }
        if self.is_non_negative is not None:
            doc["num_constraints"] = {"is_non_negative": self.is_non_negative}
        if self.domains is not None:
            doc["string_constraints"] = {"domains": list(self.domains)}
        doc["monitoringConfigOverrides"] = dict(self.overrides)
        return doc

    @classmethod
    def from_json(cls, doc: Any, *, position: int) -> FeatureConstraint:
        """Parse one feature object.

        Raises:
            BaselineError: The name or type is missing or invalid; the message names the entry.
        """
        where = f"constraints.json: features[{position}]"
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
            raise BaselineError(f"{where} needs a non-empty name")
        try:
            inferred = InferredType(doc.get("inferred_type", "Unknown"))
        except ValueError:
            raise BaselineError(
                f"{where} ({doc['name']}): unknown inferred_type {doc.get('inferred_type')!r}"
            ) from None
        numeric = doc.get("num_constraints") or {}
        strings = doc.get("string_constraints") or {}
        domains = strings.get("domains") if isinstance(strings, dict) else None
        overrides = doc.get("monitoringConfigOverrides") or {}
        return cls(
            name=doc["name"],
            inferred_type=inferred,
            completeness=_ratio(doc, "completeness", 1.0, where=f"{where} ({doc['name']})"),
            is_non_negative=bool(numeric["is_non_negative"])
            if isinstance(numeric, dict) and "is_non_negative" in numeric
            else None,
            domains=tuple(str(v) for v in domains) if isinstance(domains, list) else None,
            overrides=dict(overrides) if isinstance(overrides, dict) else {},
        )


@dataclass(frozen=True)
class Constraints:
    """A parsed ``constraints.json``."""

    features: tuple[FeatureConstraint, ...]
    monitoring_config: MonitoringConfig = MonitoringConfig()

    def feature(self, name: str) -> FeatureConstraint | None:
        """The constraint of column ``name``, if any."""
        return next((f for f in self.features if f.name == name), None)

    def with_config(self, **changes: Any) -> Constraints:
        """A copy with some ``monitoring_config`` values changed."""
        return replace(self, monitoring_config=replace(self.monitoring_config, **changes))

    def to_json(self) -> dict[str, Any]:
        """The ``constraints.json`` document."""
        return {
            "version": 0,
            "features": [f.to_json() for f in self.features],
            "monitoring_config": self.monitoring_config.to_json(),
        }

    @classmethod
    def from_json(cls, doc: Any) -> Constraints:
        """Parse a ``constraints.json`` document.

        Raises:
            BaselineError: The document is not an object with a ``features`` list, an entry is
                invalid, or a name appears twice.
        """
        if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
            raise BaselineError("constraints.json must be an object with a features list")
        features = tuple(
            FeatureConstraint.from_json(entry, position=i)
            for i, entry in enumerate(doc["features"])
        )
        names = [f.name for f in features]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise BaselineError(f"constraints.json lists features twice: {', '.join(twice)}")
        return cls(features, MonitoringConfig.from_json(doc.get("monitoring_config")))


def suggest_constraints(
    statistics: Mapping[str, Any],
    *,
    max_domain: int = DEFAULT_MAX_DOMAIN,
    config: MonitoringConfig | None = None,
) -> Constraints:
    """Constraints that the baseline itself satisfies (see the module docs)."""
    count = int(statistics["dataset"]["item_count"])
    features: list[FeatureConstraint] = []
    for entry in statistics["features"]:
        inferred = InferredType(entry["inferred_type"])
        numeric = entry.get("numerical_statistics")
        strings = entry.get("string_statistics")
        stats = numeric or strings or {"common": {"num_present": 0}}
        present = int(stats["common"]["num_present"])
        completeness = present / count if count else 1.0
        non_negative = bool(numeric["min"] >= 0) if numeric and present else None
        domains: tuple[str, ...] | None = None
        if strings is not None and 0 < strings["distinct_count"] <= max_domain:
            buckets = strings["distribution"]["categorical"]["buckets"]
            domains = tuple(sorted(str(b["value"]) for b in buckets))
        features.append(
            FeatureConstraint(
                name=entry["name"],
                inferred_type=inferred,
                completeness=completeness,
                is_non_negative=non_negative,
                domains=domains,
            )
        )
    return Constraints(tuple(features), config or MonitoringConfig())


def _flag(value: bool) -> str:
    """``Enabled`` / ``Disabled``."""
    return "Enabled" if value else "Disabled"


def _enabled(doc: Mapping[str, Any], key: str, default: bool) -> bool:
    """Read an ``Enabled``/``Disabled`` (or boolean) flag."""
    value = doc.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("enabled", "disabled"):
        raise BaselineError(f"constraints.json: {key} must be Enabled or Disabled, got {value!r}")
    return text == "enabled"


def _ratio(doc: Mapping[str, Any], key: str, default: float, *, where: str = "") -> float:
    """Read a number in [0, 1]."""
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        label = f"{where}: {key}" if where else f"constraints.json: {key}"
        raise BaselineError(f"{label} must be a number between 0 and 1, got {value!r}")
    return float(value)
