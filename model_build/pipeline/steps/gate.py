"""Step 5, gate: absolute thresholds, and "not worse than what serves in prod".

Absolute checks come from ``params.yaml`` (``gate.min_roc_auc``, ``gate.max_log_loss``...).
The serving check compares the candidate with the version that serves in prod: the version
named by the prod manifest (``model_deploy/environments/prod.yaml``, field ``model.version``),
looked up in the registry. Its metrics are preferably recomputed on this build's holdout
(:func:`rescore_serving`), so both models are judged on the same rows; otherwise the metrics
recorded at its registration are used. A candidate may be worse than prod by at most
``gate.serving_tolerance[metric]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml

from model_build.errors import GateFailedError, PipelineError, VersionNotFoundError
from model_build.pipeline.params import HIGHER_IS_BETTER

if TYPE_CHECKING:
    import pandas as pd

    from model_build.pipeline.params import GateParams
    from model_build.registry.protocol import ModelRegistry, ModelVersion

_SLACK = 1e-12


@dataclass(frozen=True)
class GateCheck:
    """One comparison the gate made.

    Attributes:
        metric: Metric name.
        kind: ``absolute`` (a threshold from params) or ``serving`` (against prod).
        candidate: The candidate's value.
        limit: The value the candidate had to reach (minimum or maximum).
        passed: Whether it did.
        message: One line with the numbers.
        baseline: The serving version's value (serving checks only).
        tolerance: Allowed gap to the serving version (serving checks only).
    """

    metric: str
    kind: Literal["absolute", "serving"]
    candidate: float
    limit: float
    passed: bool
    message: str
    baseline: float | None = None
    tolerance: float | None = None


@dataclass(frozen=True)
class Baseline:
    """The serving version the candidate is compared with.

    Attributes:
        ref: ``<model>:<version>``.
        metrics: Its metrics.
        source: ``holdout`` (recomputed on this build's holdout) or ``registry`` (as recorded).
    """

    ref: str
    metrics: dict[str, float]
    source: Literal["holdout", "registry"]


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict.

    Attributes:
        passed: True when every check passed.
        checks: Every check, absolute ones first.
        baseline: The serving version compared with, or None.
    """

    passed: bool
    checks: list[GateCheck]
    baseline: Baseline | None

    @property
    def serving_passed(self) -> bool:
        """True when every serving check passed (or there was none)."""
        return all(c.passed for c in self.checks if c.kind == "serving")

    def summary(self) -> str:
        """One line: ``passed`` plus counts, or every failed check's message."""
        failed = [c.message for c in self.checks if not c.passed]
        if not failed:
            against = f" (against {self.baseline.ref})" if self.baseline else ""
            return f"passed {len(self.checks)} checks{against}"
        return "; ".join(failed)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``gate.json``, the ``gate`` section of ``evaluation.json``)."""
        return {
            "passed": self.passed,
            "serving_passed": self.serving_passed,
            "summary": self.summary(),
            "baseline": asdict(self.baseline) if self.baseline else None,
            "checks": [asdict(c) for c in self.checks],
        }


def check_gate(
    *,
    metrics: dict[str, float],
    gate: GateParams,
    serving: ModelVersion | None,
    serving_metrics: dict[str, float] | None = None,
) -> GateResult:
    """Compare the candidate's metrics with the thresholds and the serving version (pure).

    Args:
        metrics: The candidate's holdout metrics.
        gate: Thresholds and tolerances.
        serving: The version serving in prod, or None (then only absolute checks run).
        serving_metrics: The serving version's metrics on this holdout; when None its
            registered metrics are used.

    Returns:
        The verdict with every check.

    Raises:
        PipelineError: A metric the gate needs is missing from ``metrics``.
    """
    baseline: Baseline | None = None
    if serving is not None:
        baseline = Baseline(
            ref=serving.ref,
            metrics=dict(serving.metrics if serving_metrics is None else serving_metrics),
            source="registry" if serving_metrics is None else "holdout",
        )
    return check_against(metrics=metrics, gate=gate, baseline=baseline)


def check_against(
    *, metrics: dict[str, float], gate: GateParams, baseline: Baseline | None
) -> GateResult:
    """Like :func:`check_gate`, with the serving metrics given directly (pure).

    Args:
        metrics: The candidate's holdout metrics.
        gate: Thresholds and tolerances.
        baseline: The serving version's reference and metrics, or None.

    Returns:
        The verdict with every check.

    Raises:
        PipelineError: A metric the gate needs is missing from ``metrics``.
    """
    checks: list[GateCheck] = []
    limits: list[tuple[str, float | None, bool]] = [
        ("roc_auc", gate.min_roc_auc, True),
        ("log_loss", gate.max_log_loss, False),
        ("brier", gate.max_brier, False),
        ("ece", gate.max_ece, False),
    ]
    for metric, limit, minimum in limits:
        if limit is None:
            continue
        value = _metric(metrics, metric)
        ok = value >= limit - _SLACK if minimum else value <= limit + _SLACK
        bound = "minimum" if minimum else "maximum"
        verdict = "meets" if ok else "misses"
        checks.append(
            GateCheck(
                metric=metric,
                kind="absolute",
                candidate=value,
                limit=limit,
                passed=ok,
                message=f"{metric} {value:.4f} {verdict} the {bound} {limit:.4f}",
            )
        )
    if baseline is not None:
        for metric, tolerance in sorted(gate.serving_tolerance.items()):
            if metric not in baseline.metrics:
                continue
            checks.append(
                _serving_check(
                    metric=metric,
                    value=_metric(metrics, metric),
                    prod=float(baseline.metrics[metric]),
                    tolerance=tolerance,
                    ref=baseline.ref,
                )
            )
    return GateResult(passed=all(c.passed for c in checks), checks=checks, baseline=baseline)


def enforce_gate(result: GateResult, *, model_name: str) -> None:
    """Raise if the gate blocked the candidate.

    Args:
        result: The verdict.
        model_name: Model name, for the message.

    Raises:
        GateFailedError: The message lists every failed check with both numbers.
    """
    if not result.passed:
        raise GateFailedError(f"gate blocked the {model_name} candidate: {result.summary()}")


def read_manifest_version(*, manifest: Path, model_name: str) -> int | None:
    """Read ``model.version`` from an environment manifest.

    Args:
        manifest: The manifest file (e.g. ``model_deploy/environments/prod.yaml``).
        model_name: The model being built; a manifest naming another model gives None.

    Returns:
        The version serving there, or None when the file, the field or the model differs.

    Raises:
        PipelineError: The file is not YAML or ``model.version`` is not a positive integer.
    """
    if not manifest.is_file():
        return None
    try:
        raw = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PipelineError(f"{manifest}: cannot read the environment manifest: {exc}") from exc
    model = raw.get("model") if isinstance(raw, dict) else None
    if not isinstance(model, dict) or model.get("version") is None:
        return None
    name = model.get("name")
    if name is not None and str(name) != model_name:
        return None
    version = model["version"]
    text = str(version).strip()
    if isinstance(version, bool) or not text.isdigit() or int(text) < 1:
        raise PipelineError(
            f"{manifest}: field 'model.version': expected a positive integer, got {version!r}"
        )
    return int(text)


def resolve_serving(
    *, registry: ModelRegistry, model_name: str, manifest: Path
) -> ModelVersion | None:
    """Find the version serving in prod: the manifest's ``model.version`` in the registry.

    Args:
        registry: The model registry.
        model_name: The model being built.
        manifest: The prod environment manifest.

    Returns:
        The serving version, or None when there is no manifest or it names no version.

    Raises:
        PipelineError: The manifest is invalid or names a version the registry lacks.
    """
    version = read_manifest_version(manifest=manifest, model_name=model_name)
    if version is None:
        return None
    try:
        return registry.get(model_name=model_name, version=version)
    except VersionNotFoundError as exc:
        raise PipelineError(
            f"{manifest}: field 'model.version': {model_name}:{version} is not in the registry"
        ) from exc


def rescore_serving(
    *,
    registry: ModelRegistry,
    serving: ModelVersion,
    holdout: pd.DataFrame,
    label: str,
    threshold: float,
    bins: int,
    directory: Path,
) -> dict[str, float] | None:
    """Score the serving version's bundle on this build's holdout.

    Args:
        registry: Where the bundle is fetched from.
        serving: The serving version.
        holdout: The candidate's holdout rows.
        label: Label column.
        threshold: Decision threshold (the candidate's, so thresholded metrics compare).
        bins: Calibration bins.
        directory: Scratch folder for the fetched bundle.

    Returns:
        Its metrics on the holdout, or None when it needs features the holdout lacks or
        cannot score them.

    Raises:
        RegistryError: The bundle cannot be fetched.
        BundleError: The fetched bundle cannot be loaded.
    """
    from model_build.pipeline.steps.evaluate import score
    from model_bundle.bundle import load_bundle

    bundle_dir = registry.fetch_bundle(
        model_name=serving.model_name, version=serving.version, directory=directory
    )
    bundle = load_bundle(directory=bundle_dir)
    if any(name not in holdout.columns for name in bundle.features):
        return None
    try:
        probabilities = np.asarray(
            bundle.estimator.predict_proba(holdout[bundle.features])[:, 1], dtype=np.float64
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return score(holdout[label], probabilities, threshold=threshold, bins=bins).metrics


def _serving_check(
    *, metric: str, value: float, prod: float, tolerance: float, ref: str
) -> GateCheck:
    higher = metric in HIGHER_IS_BETTER
    limit = prod - tolerance if higher else prod + tolerance
    ok = value >= limit - _SLACK if higher else value <= limit + _SLACK
    worse_by = (prod - value) if higher else (value - prod)
    if ok:
        message = (
            f"{metric} {value:.4f} vs prod {ref} ({prod:.4f}): within the tolerance {tolerance:.4f}"
        )
    else:
        message = (
            f"{metric} {value:.4f} is {worse_by:.4f} worse than prod {ref} ({prod:.4f}), "
            f"more than the tolerance {tolerance:.4f}"
        )
    return GateCheck(
        metric=metric,
        kind="serving",
        candidate=value,
        limit=limit,
        passed=ok,
        message=message,
        baseline=prod,
        tolerance=tolerance,
    )


def _metric(metrics: dict[str, float], name: str) -> float:
    if name not in metrics:
        raise PipelineError(f"gate: metric {name!r} missing from the evaluation")
    return float(metrics[name])
