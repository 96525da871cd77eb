"""The main job's monitoring step (issue 14, item 5), on the whole loop with prod live.

One ``run_demo(keep_running=True)`` in a temp folder (the real loop: build, register with a
baseline, promote by PR to prod, deploy), then: the step reported the training-like window
clean and the shifted one with a drift violation naming the shifted feature; the forge holds
exactly one retrain pull request and one monitoring issue; running the step again on the live
deployment updates them and opens nothing new; the web console renders that state in a real
headless browser (issue 16). The endpoints are stopped afterwards. The demo's endpoints listen
on the manifests' fixed ports, so the run holds ``kits.demo_ports`` (one main job at a time).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kits.browser import AXE, WAIT, axe_critical, cell, chrome, click, load, missing, severe, shot
from kits.demo_ports import demo_ports

from ci.forge.local import LocalForge
from ci.retrain import MONITOR_LABEL, retrain_branch, stamp_path
from foundation.ports import free_port
from slipway.demo.commands import LoopPaths
from slipway.demo.loop import _monitored, stop_endpoints
from slipway.demo.monitoring import (
    DRIFT_CHECK,
    REQUESTS,
    ROWS_PER_REQUEST,
    MonitoringOutcome,
    check_clean,
    check_shifted,
    important_feature,
    parse_result,
    run_monitoring,
)
from slipway.demo.progress import DemoRun
from slipway.errors import DemoError

pytestmark = pytest.mark.integration

MODEL = "driver_ranking"
PROMOTIONS = 6  # two models x three environments, each merged
# The first test pays for the module's demo run (minutes on a loaded machine), and may first
# wait for another main job to release the ports (kits.demo_ports).
DEMO_TIMEOUT = 2400


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoRun, LoopPaths]]:
    from slipway.demo.run import run_demo

    root = tmp_path_factory.mktemp("demo")
    paths = LoopPaths(root=root, feature_repo=root / "feature_repo")
    with demo_ports():
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


@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT)
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


@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT)
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


@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT)
def test_the_console_renders_the_main_jobs_state(
    demo: tuple[DemoRun, LoopPaths], tmp_path: Path
) -> None:
    """The console on what ``slipway demo`` leaves: every deployment synced and healthy.

    A real headless chromium (``kits.browser``), no SEVERE console entry, no critical axe-core
    violation; the screenshots are docs/console.md's.
    """
    if missing() is not None:
        pytest.skip(str(missing()))
    if not AXE.is_file():
        pytest.fail(f"no {AXE}: npm install --no-save --prefix .cache axe-core@4.14.1")
    from selenium.webdriver.common.by import By

    _, main_job = demo
    root = main_job.root
    env = {
        **main_job.env(),
        "SLIPWAY_CONSOLE_RUN_DIR": str(main_job.runs),
        "SLIPWAY_CONSOLE_REPORTS_DIR": str(root / "reports" / "validation"),
        "SLIPWAY_CONSOLE_STATUS_TTL": "0",
    }
    env.pop("SLIPWAY_CONSOLE_TOKEN", None)
    port = free_port()
    log = (tmp_path / "console.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "slipway", "console", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    server = f"http://127.0.0.1:{port}"
    try:
        with chrome() as driver:
            _wait_healthy(server + "/healthz")
            load(driver, server + "/", "Environments")
            for env_name in ("dev", "staging", "prod"):
                for model in ("driver_ranking", "trip_fare"):
                    text = cell(driver, f"{env_name}/{model}")
                    assert "v1" in text, text
                    assert "synced" in text, text
                    assert "unhealthy" not in text, text
            assert not severe(driver)
            assert not axe_critical(driver)
            shot(driver, "main-job-matrix")
            click(driver, "prod", "Environment prod")
            assert "Merge pull request" in driver.find_element(By.TAG_NAME, "main").text
            click(driver, "Models", "Models")
            click(driver, "driver_ranking", "Model driver_ranking")
            click(driver, "v1", "driver_ranking:1")
            images = driver.find_elements(By.CSS_SELECTOR, ".plots img")
            assert images, "the build run's plots"
            assert all(
                driver.execute_script("return arguments[0].naturalWidth", i) > 0 for i in images
            )
            assert driver.find_elements(By.LINK_TEXT, "Validation report (Data Docs)")
            assert not severe(driver)
            assert not axe_critical(driver)
            shot(driver, "main-job-version")
            click(driver, "Features", "Features")
            main = driver.find_element(By.TAG_NAME, "main").text
            assert "driver_hourly_stats" in main
            assert "driver_ranking_v1" in main
            assert driver.find_elements(By.CSS_SELECTOR, ".badge-fresh"), "materialized just now"
            assert not severe(driver)
            shot(driver, "main-job-features")
    finally:
        process.terminate()
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WAIT)
        log.close()


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within 60 s")


# --- the step's verdicts and the demo's prod manifest (no demo run) -------------------------

ROOT = Path(__file__).resolve().parents[2]


def _doc(status: str, *violations: tuple[str, str]) -> dict[str, Any]:
    listed = [
        {"feature_name": f, "constraint_check_type": c, "description": "x"} for f, c in violations
    ]
    return {"status": status, "violations": listed, "failure_reason": "no rows"}


def test_a_false_alarm_an_empty_window_or_a_missed_shift_fail_the_step() -> None:
    check_clean(_doc("Completed"))
    with pytest.raises(DemoError, match="training-like window reported violations: "
                       "baseline_drift_check rating"):  # fmt: skip
        check_clean(_doc("CompletedWithViolations", ("rating", DRIFT_CHECK)))
    with pytest.raises(DemoError, match="was not analysed: no rows"):
        check_clean(_doc("Failed"))
    check_shifted(
        _doc("CompletedWithViolations", ("pickup_score", DRIFT_CHECK)), feature="pickup_score"
    )
    with pytest.raises(DemoError, match=r"reported no drift of it \(drifted: rating\)"):
        check_shifted(
            _doc("CompletedWithViolations", ("rating", DRIFT_CHECK)), feature="pickup_score"
        )
    with pytest.raises(DemoError, match="drifted: none"):
        check_shifted(
            _doc("CompletedWithViolations", ("pickup_score", "completeness_check")),
            feature="pickup_score",
        )


def test_the_exit_code_must_agree_with_the_status() -> None:
    assert parse_result(0, json.dumps(_doc("Completed")))["status"] == "Completed"
    assert parse_result(1, json.dumps(_doc("CompletedWithViolations", ("a", DRIFT_CHECK))))
    with pytest.raises(DemoError, match="exited 1 with status Completed"):
        parse_result(1, json.dumps(_doc("Completed")))
    with pytest.raises(DemoError, match="exited 0 with status CompletedWithViolations"):
        parse_result(0, json.dumps(_doc("CompletedWithViolations")))
    with pytest.raises(DemoError, match="printed no JSON result"):
        parse_result(1, "boom")


def test_the_shifted_feature_is_the_most_important_fractional_one(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "evaluation.json").write_text(
        json.dumps({"feature_importance": [{"feature": "avg_daily_trips"}, {"feature": "rating"}]})
    )
    assert important_feature(["conv_rate", "rating"], run_dir=run_dir) == "rating"
    assert important_feature(["conv_rate", "rating"], run_dir=None) == "conv_rate"
    with pytest.raises(DemoError, match="no fractional feature"):
        important_feature([], run_dir=run_dir)


def test_the_demo_prod_manifest_captures_everything_and_skips_drift_html(tmp_path: Path) -> None:
    from model_deploy.manifest.loader import load_manifest

    source = (ROOT / "model_deploy" / "environments" / "prod" / f"{MODEL}.yaml").read_text()
    text = _monitored(source)
    # Only those two settings change: comments and layout stay.
    removed = [line for line in source.splitlines() if line not in text.splitlines()]
    assert removed == ["  sampling_percentage: 20"]
    path = tmp_path / "prod" / f"{MODEL}.yaml"
    path.parent.mkdir()
    path.write_text(text)
    manifest = load_manifest(path=path).manifest
    assert manifest.data_capture.sampling_percentage == 100
    assert manifest.monitoring.evidently_html is False
    # A manifest that already has a monitoring block keeps its other settings.
    again = _monitored("a: 1\nmonitoring:\n  window: 1h\n  evidently_html: true\n")
    assert again.endswith("monitoring:\n  evidently_html: false\n  window: 1h\n")
