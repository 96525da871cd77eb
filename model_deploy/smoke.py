"""Smoke tests: the manifest's cases sent to a new endpoint before (or as) it takes traffic.

What an answer must look like depends on the model's task (the registered version's): the
inference server answers ``{probability, label}`` (binary), ``{probabilities, label}``
(multiclass) or ``{prediction}`` (regression), and each case's ``expect`` bounds them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model_bundle.task import DEFAULT_TASK, Task
from model_deploy.errors import DeployError, SmokeTestError
from model_deploy.manifest.checks import ProbabilityRange, SmokeExpect
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
    cases: list[SmokeCase],
    *,
    invoke: Invoker,
    expected_digest: str | None = None,
    task: Task | str = DEFAULT_TASK,
) -> list[SmokeResult]:
    """Send every case and check the answers against the model's ``task``.

    See :func:`check_answer`. A request that fails is a failed case, not an error. One result
    per case, in order.
    """
    results = []
    for case in cases:
        try:
            answer = invoke(list(case.instances))
        except DeployError as exc:
            results.append(SmokeResult(case.name, False, f"request failed: {exc}"))
            continue
        problem = check_answer(case, answer=answer, expected_digest=expected_digest, task=task)
        results.append(SmokeResult(case.name, problem is None, problem or ""))
    return results


def check_answer(
    case: SmokeCase,
    *,
    answer: dict[str, Any],
    expected_digest: str | None,
    task: Task | str = DEFAULT_TASK,
) -> str | None:
    """Check one decoded answer: None when it passes ``case``, else what is wrong (a sentence).

    One prediction per row, each in the task's shape (the inference server's answer):
    binary ``{probability, label}`` (a finite probability in range, a label in the allowed
    labels), multiclass ``{probabilities, label}`` (probabilities in range summing to 1, the
    label one of the classes), regression ``{prediction}`` (finite, in range). When the
    answer names the model digest, it must equal ``expected_digest`` (the endpoint serves the
    version we deployed).
    """
    predictions = answer.get("predictions")
    if not isinstance(predictions, list):
        return "the answer has no 'predictions' list"
    if len(predictions) != len(case.instances):
        return f"expected {len(case.instances)} predictions, got {len(predictions)}"
    check = _CHECKS[Task(task)]
    for index, row in enumerate(predictions):
        if not isinstance(row, dict):
            return f"prediction {index} is not an object"
        problem = check(case.expect, row)
        if problem is not None:
            return f"prediction {index}: {problem}"
    model = answer.get("model")
    digest = model.get("digest") if isinstance(model, dict) else None
    if expected_digest and digest and digest != expected_digest:
        return f"the endpoint serves {digest}, expected {expected_digest}"
    return None


def _number(value: object) -> float | None:
    """A finite number, or None (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _label_problem(expect: SmokeExpect, label: object, *, allowed: list[object]) -> str | None:
    if isinstance(label, bool) or not isinstance(label, int | str) or label not in allowed:
        shown = ", ".join(repr(item) for item in allowed)
        return f"label {label!r} is not one of {shown}"
    if expect.label is not None and label != expect.label:
        return f"label {label!r}, expected {expect.label!r}"
    return None


def _binary(expect: SmokeExpect, row: dict[str, Any]) -> str | None:
    if "probability" not in row or "label" not in row:
        return f"the answer is not a binary one ({{probability, label}}); it has {sorted(row)}"
    probability = _number(row["probability"])
    bounds = expect.probability or ProbabilityRange()
    if probability is None:
        return f"probability {row['probability']!r} is not a finite number"
    if not bounds.min <= probability <= bounds.max:
        return f"probability {probability} is outside [{bounds.min}, {bounds.max}]"
    allowed: list[object] = list(expect.labels) if expect.labels is not None else [0, 1]
    return _label_problem(expect, row["label"], allowed=allowed)


def _multiclass(expect: SmokeExpect, row: dict[str, Any]) -> str | None:
    probabilities = row.get("probabilities")
    if not isinstance(probabilities, dict) or "label" not in row:
        return (
            f"the answer is not a multiclass one ({{probabilities, label}}); it has {sorted(row)}"
        )
    if len(probabilities) < 2:
        return f"{len(probabilities)} class probability: a multiclass answer has one per class"
    bounds = expect.probability or ProbabilityRange()
    values = []
    for name, raw in probabilities.items():
        value = _number(raw)
        if value is None:
            return f"the probability of class {name!r} is {raw!r}, not a finite number"
        if not bounds.min <= value <= bounds.max:
            return (
                f"the probability of class {name!r} ({value}) is outside "
                f"[{bounds.min}, {bounds.max}]"
            )
        values.append(value)
    if abs(sum(values) - 1.0) > _SUM_TOLERANCE:
        return f"the class probabilities sum to {sum(values):.6g}, not 1"
    label = row["label"]
    classes = [str(name) for name in probabilities]
    if isinstance(label, bool) or not isinstance(label, int | str) or str(label) not in classes:
        return f"label {label!r} is not one of the classes answered ({', '.join(classes)})"
    if expect.labels is not None and label not in expect.labels:
        return f"label {label!r} is not one of {expect.labels}"
    if expect.label is not None and label != expect.label:
        return f"label {label!r}, expected {expect.label!r}"
    return None


def _regression(expect: SmokeExpect, row: dict[str, Any]) -> str | None:
    if "prediction" not in row:
        return f"the answer is not a regression one ({{prediction}}); it has {sorted(row)}"
    value = _number(row["prediction"])
    if value is None:
        return f"prediction {row['prediction']!r} is not a finite number"
    bounds = expect.prediction
    if bounds is not None:
        if bounds.min is not None and value < bounds.min:
            return f"prediction {value} is below the minimum {bounds.min}"
        if bounds.max is not None and value > bounds.max:
            return f"prediction {value} is above the maximum {bounds.max}"
    return None


_SUM_TOLERANCE = 1e-6
_CHECKS: dict[Task, Callable[[SmokeExpect, dict[str, Any]], str | None]] = {
    Task.BINARY: _binary,
    Task.MULTICLASS: _multiclass,
    Task.REGRESSION: _regression,
}


def expectation_problems(case: SmokeCase, *, task: Task | str) -> list[str]:
    """What in ``case.expect`` does not fit a model of ``task`` (for the feature-schema policy)."""
    task = Task(task)
    expect, found = case.expect, []
    if task is Task.REGRESSION:
        for name in ("probability", "label", "labels"):
            if getattr(expect, name) is not None:
                found.append(f"expect.{name} (a regression model answers a prediction)")
    else:
        if expect.prediction is not None:
            found.append(f"expect.prediction (a {task} model answers probabilities and a label)")
        if task is Task.BINARY:
            allowed = expect.labels if expect.labels is not None else [0, 1]
            if expect.label is not None and expect.label not in allowed:
                found.append(f"expect.label {expect.label!r} (a binary label is one of {allowed})")
    return found


def require_passed(results: list[SmokeResult]) -> None:
    """Raise if any case failed.

    Raises:
        SmokeTestError: Names every failed case and why.
    """
    failed = [f"{r.name!r}: {r.message}" for r in results if not r.passed]
    if failed:
        raise SmokeTestError(f"{len(failed)} smoke test(s) failed: " + "; ".join(failed))
