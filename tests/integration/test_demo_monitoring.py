"""The main job's monitoring step (issue 14, item 5), on the whole loop with prod live.

One ``run_demo(keep_running=True)`` in a temp folder (the real loop: build, register with a
baseline, promote by PR to prod, deploy), then: the step reported the training-like window
clean and the shifted one with a drift violation naming the shifted feature; the forge holds
exactly one retrain pull request and one monitoring issue; running the step again on the live
deployment updates them and opens nothing new. The endpoints are stopped afterwards.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ci.forge.local import LocalForge
from ci.retrain import MONITOR_LABEL, retrain_branch, stamp_path
from slipway.demo.commands import LoopPaths
from slipway.demo.loop import stop_endpoints
from slipway.demo.monitoring import (
    DRIFT_CHECK,
    REQUESTS,
    ROWS_PER_REQUEST,
    MonitoringOutcome,
    run_monitoring,
)
from slipway.demo.progress import DemoRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "driver_ranking"
PROMOTIONS = 6  # two models x three environments, each merged


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoRun, LoopPaths]]:
    from slipway.demo.run import run_demo

    root = tmp_path_factory.mktemp("demo")
    paths = LoopPaths(root=root, feature_repo=root / "feature_repo")
    try:
        run = run_demo(workdir=root, keep_running=True)
        yield run, LoopPaths(root=run.workdir, feature_repo=run.repo.path)
    finally:
        stop_endpoints(paths)


def _open(paths: LoopPaths) -> tuple[list[int], list[int]]:
    forge = LocalForge(repo=paths.git_repo)
    prs = [p.number for p in forge.list_prs(state="open") if p.head == retrain_branch(MODEL)]
    issues = [i.number for i in forge.list_issues(state="open") if MONITOR_LABEL in i.labels]
    return prs, issues


def _drifted(result: dict[str, Any]) -> set[str]:
    return {
        str(v["feature_name"])
        for v in result["violations"]
        if v["constraint_check_type"] == DRIFT_CHECK
    }


def test_the_step_reports_clean_then_drift_and_opens_one_pr_and_one_issue(
    demo: tuple[DemoRun, LoopPaths],
) -> None:
    run, paths = demo
    outcome = run.outputs["monitoring"]
    assert isinstance(outcome, MonitoringOutcome)
    assert outcome.deployment == f"prod/{MODEL}"
    assert outcome.version == f"{MODEL}:1"
    titles = [title for title, _ in run.timings]
    assert any(t.startswith("Monitor both windows (slipway monitor run prod") for t in titles)
    assert any(t.startswith("Retrain by pull request") for t in titles)
    # Every request captured (the demo's prod manifest): each window holds the rows sent.
    for result in (outcome.clean, outcome.shifted):
        assert result["window"]["requests"] == REQUESTS
        assert result["window"]["rows"] == REQUESTS * ROWS_PER_REQUEST
        assert result["version"] == outcome.version
    assert outcome.clean["status"] == "Completed"
    assert outcome.clean["violations"] == []
    assert outcome.shifted["status"] == "CompletedWithViolations"
    assert outcome.feature in _drifted(outcome.shifted)
    # The report printed is the shifted run's page, on disk.
    assert outcome.report is not None
    assert Path(outcome.report).is_file()
    assert outcome.feature in Path(outcome.report).read_text(encoding="utf-8")
    assert run.outputs["links"]["monitor report"] == outcome.report
    # One retrain pull request (the stamp under model_build/) and one issue, both open.
    assert _open(paths) == ([outcome.pr], [outcome.issue])
    forge = LocalForge(repo=paths.git_repo)
    pr = forge.get_pr(number=outcome.pr)
    assert forge.changed_paths(base="main", head=pr.head) == [stamp_path(MODEL)]
    stamp = json.loads(forge.read_file(path=stamp_path(MODEL), ref=pr.head) or "{}")
    assert f"{DRIFT_CHECK}: {outcome.feature}" in stamp["why"]["prod"]["violations"]
    everything = forge.list_prs()
    assert sum(p.state == "merged" for p in everything) == PROMOTIONS
    assert len(everything) == PROMOTIONS + 1
    # The forge's work tree is back on main and clean (later promotions need it).
    head = subprocess.run(
        ["git", "status", "--porcelain", "--branch"],
        cwd=paths.git_repo, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert head[0].startswith("## main")
    assert head[1:] == []


def test_rerunning_the_step_updates_the_pr_and_issue_and_opens_nothing_new(
    demo: tuple[DemoRun, LoopPaths],
) -> None:
    run, paths = demo
    first = run.outputs["monitoring"]
    assert isinstance(first, MonitoringOutcome)
    again = run_monitoring(
        paths, model=MODEL, version=first.version, run_dir=first.run_dir, port=first.port
    )
    assert again.clean["violations"] == []
    assert again.feature in _drifted(again.shifted)
    assert (again.pr, again.issue) == (first.pr, first.issue)
    assert again.retrain["action"] == "requested"
    assert again.retrain["committed"] is False  # same violations, same version: no new commit
    assert _open(paths) == ([first.pr], [first.issue])
    forge = LocalForge(repo=paths.git_repo)
    assert len(forge.list_prs()) == PROMOTIONS + 1
    assert len([i for i in forge.list_issues() if MONITOR_LABEL in i.labels]) == 1
