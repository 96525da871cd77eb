"""The monitoring step's verdicts: each window's result, and the forge after the retrain.

What :mod:`slipway.demo.monitoring` expects of ``slipway monitor run --format json`` (exit code
agreeing with the status, the training-like window clean, the shifted one drifting in the
shifted feature) and of ``slipway ci retrain`` on the local forge (exactly one open retrain
pull request and one open issue of the deployment). Each miss is a :class:`DemoError`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Final

from slipway.demo.commands import LoopPaths, slipway
from slipway.errors import DemoError

ENV: Final = "prod"
SHIFT_SD: Final = 0.5
"""How far the shifted batch moves the feature, in the training data's standard deviations."""
DRIFT_CHECK: Final = "baseline_drift_check"
WITH_VIOLATIONS: Final = "CompletedWithViolations"


def check_clean(result: dict[str, Any]) -> None:
    """The training-like window: analysed, and no violation.

    Raises:
        DemoError: Nothing was analysed, or a violation was reported.
    """
    _analysed(result, "the training-like window")
    if result.get("violations"):
        found = "; ".join(_describe(v) for v in result["violations"])
        raise DemoError(f"the training-like window reported violations: {found}")


def check_shifted(result: dict[str, Any], *, feature: str) -> None:
    """The shifted window: a drift violation naming ``feature``.

    Raises:
        DemoError: Nothing was analysed, or no drift violation names the feature.
    """
    _analysed(result, "the shifted window")
    drifted = [
        v.get("feature_name")
        for v in result.get("violations") or []
        if v.get("constraint_check_type") == DRIFT_CHECK
    ]
    if feature not in drifted:
        raise DemoError(
            f"the window with {feature} shifted by {SHIFT_SD} sd reported no drift of it "
            f"(drifted: {', '.join(map(str, drifted)) or 'none'})"
        )


def retrain_by_pr(
    paths: LoopPaths, *, model: str, result: Path, report: str | None
) -> dict[str, Any]:
    """``slipway ci retrain`` on the shifted run, against the demo's local forge.

    Raises:
        DemoError: The command failed or did not request a retrain.
    """
    extra = ["--report-url", Path(report).resolve().as_uri()] if report else []
    out = slipway(
        paths, "ci", "retrain", "--env", ENV, "--model", model, "--result", str(result),
        *extra, "--format", "json",
    )  # fmt: skip
    # The forge writes the retrain branch through git; main stays the work tree's branch.
    subprocess.run(["git", "checkout", "-q", "main"], cwd=paths.git_repo, check=True)
    done: dict[str, Any] = json.loads(out)
    if done.get("action") != "requested" or done.get("pr") is None:
        raise DemoError(f"slipway ci retrain did not request a retrain: {done}")
    return done


def check_forge(paths: LoopPaths, *, model: str) -> tuple[int, int]:
    """The forge holds exactly one open retrain pull request and one open issue of the model.

    Returns:
        Their numbers.

    Raises:
        DemoError: None or more than one of either.
    """
    from ci.forge.local import LocalForge
    from ci.retrain import MONITOR_LABEL, retrain_branch

    forge = LocalForge(repo=paths.git_repo)
    prs = [p.number for p in forge.list_prs(state="open") if p.head == retrain_branch(model)]
    issues = [
        i.number
        for i in forge.list_issues(state="open")
        if MONITOR_LABEL in i.labels and f"model:{model}" in i.labels and f"env:{ENV}" in i.labels
    ]
    if len(prs) != 1 or len(issues) != 1:
        raise DemoError(
            f"expected one open retrain pull request and one issue for {ENV}/{model}, found "
            f"pull requests {prs} and issues {issues}"
        )
    return prs[0], issues[0]


def parse_result(code: int, stdout: str) -> dict[str, Any]:
    """A ``slipway monitor run --format json`` result, checked against its exit code."""
    try:
        doc: dict[str, Any] = json.loads(stdout)
    except ValueError as exc:
        raise DemoError(f"slipway monitor run printed no JSON result: {stdout[:200]!r}") from exc
    if (code == 1) != (doc.get("status") == WITH_VIOLATIONS):
        raise DemoError(f"slipway monitor run exited {code} with status {doc.get('status')}")
    return doc


def _analysed(result: dict[str, Any], what: str) -> None:
    if result.get("status") == "Failed":
        raise DemoError(f"{what} was not analysed: {result.get('failure_reason')}")


def _describe(violation: dict[str, Any]) -> str:
    return f"{violation.get('constraint_check_type')} {violation.get('feature_name')}"
