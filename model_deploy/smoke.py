"""Smoke tests: the manifest's cases sent to a new endpoint before (or as) it takes traffic."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from model_deploy.errors import DeployError, SmokeTestError
from model_deploy.manifest.model import SmokeCase
from model_deploy.targets.protocol import Invoker


@dataclass(frozen=True)
class SmokeResult:
    """Outcome of one smoke test case.

    Attributes:
        name: Case name.
        passed: Whether every check held.
        message: What went wrong (empty when passed).
    """

    name: str
    passed: bool
    message: str = ""


def run_smoke_tests(
    cases: list[SmokeCase], *, invoke: Invoker, expected_digest: str | None = None
) -> list[SmokeResult]:
    """Send every case and check the answers.

    Checks: one prediction per row; each has a finite ``probability`` in the case's range and a
    ``label`` of 0 or 1 (equal to the expected label when set); when the answer names the model
    digest, it equals ``expected_digest`` (the endpoint serves the version we deployed). A
    request that fails is a failed case, not an error. One result per case, in order.
    """
    results = []
    for case in cases:
        try:
            answer = invoke(list(case.instances))
        except DeployError as exc:
            results.append(SmokeResult(case.name, False, f"request failed: {exc}"))
            continue
        problem = check_answer(case, answer=answer, expected_digest=expected_digest)
        results.append(SmokeResult(case.name, problem is None, problem or ""))
    return results


def check_answer(
    case: SmokeCase, *, answer: dict[str, Any], expected_digest: str | None
) -> str | None:
    """Check one decoded answer: None when it passes ``case``, else what is wrong (a sentence)."""
    predictions = answer.get("predictions")
    if not isinstance(predictions, list):
        return "the answer has no 'predictions' list"
    if len(predictions) != len(case.instances):
        return f"expected {len(case.instances)} predictions, got {len(predictions)}"
    low, high = case.expect.probability.min, case.expect.probability.max
    for index, row in enumerate(predictions):
        if not isinstance(row, dict):
            return f"prediction {index} is not an object"
        probability, label = row.get("probability"), row.get("label")
        if isinstance(probability, bool) or not isinstance(probability, int | float):
            return f"prediction {index} has no numeric probability"
        if not math.isfinite(probability) or not low <= probability <= high:
            return f"prediction {index}: probability {probability} is outside [{low}, {high}]"
        if label not in (0, 1) or isinstance(label, bool):
            return f"prediction {index}: label {label!r} is not 0 or 1"
        if case.expect.label is not None and label != case.expect.label:
            return f"prediction {index}: label {label}, expected {case.expect.label}"
    model = answer.get("model")
    digest = model.get("digest") if isinstance(model, dict) else None
    if expected_digest and digest and digest != expected_digest:
        return f"the endpoint serves {digest}, expected {expected_digest}"
    return None


def require_passed(results: list[SmokeResult]) -> None:
    """Raise if any case failed.

    Raises:
        SmokeTestError: Names every failed case and why.
    """
    failed = [f"{r.name!r}: {r.message}" for r in results if not r.passed]
    if failed:
        raise SmokeTestError(f"{len(failed)} smoke test(s) failed: " + "; ".join(failed))
