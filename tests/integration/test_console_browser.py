"""The console in a real headless browser: Debian's chromium through Selenium and chromedriver.

The state: 3 environments x 2 models on the local forge, a promotion pull request planned by
the real ``slipway ci comment-plan``, a merged one, a demo feature repo applied and
materialized, a validation report, a plot, a monitoring summary; the live side is a fake
target serving every wanted version but ``dev/trip_fare`` (drifted). The app runs under
uvicorn on 127.0.0.1 in this process; one more check starts ``slipway console`` itself.
Every page is loaded and navigated by clicking, the browser console log must hold no SEVERE
entry, axe-core (``.cache/node_modules/axe-core/axe.min.js``, fetched by ``.ci/run``) must
find no critical violation, and the screenshots of docs/console.md are written here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kits.browser import (
    AXE,
    WAIT,
    axe_critical,
    cell,
    chrome,
    click,
    load,
    missing,
    severe,
    shot,
)
from kits.console_state import (
    ConsoleState,
    FakeTarget,
    merge_promotion,
    open_promotion,
    small_state,
    wanted_versions,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ci"))  # ci_support

from github_api.fixtures import github_api, github_server  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[2]

if missing() is not None:
    pytest.skip(str(missing()), allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, *, timeout: float = WAIT) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def build_world(root: Path) -> tuple[ConsoleState, Path]:
    """The state on disk (see the module docstring); returns it and the feature repo."""
    from kits.feature_repos import demo_repo

    from feature_store.demo_data import DemoSizes

    state = small_state(root / "state")
    merged = open_promotion(state, key="prod/driver_ranking", version=2, plan="merged plan")
    merge_promotion(state, number=merged)
    pending = open_promotion(state, key="staging/trip_fare", version=3, plan=None)
    planned = subprocess.run(
        [sys.executable, "-m", "slipway", "ci", "comment-plan", "--pr", str(pending),
         "--repo-dir", str(state.repo)],
        env={**os.environ, **state.env()}, capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stdout + planned.stderr
    repo = demo_repo(
        root / "feature_repo", sizes=DemoSizes(drivers=5, customers=5, days=3, trips=50), seed=7
    )
    reports = root / "reports"
    reports.mkdir()
    (reports / "driver_stats_source.json").write_text(
        json.dumps(
            {
                "success": True,
                "statistics": {"evaluated_expectations": 12, "successful_expectations": 12},
                "meta": {"slipway": {"source": "driver_stats_source", "gate_passed": True,
                                     "row_count": 360, "now": "2026-11-01T00:00:00+00:00"}},
            }
        )
    )  # fmt: skip
    plots = state.runs / "run-trip_fare-3" / "plots"
    plots.mkdir(parents=True)
    _tiny_png(plots / "roc.png")
    monitor = root / "monitor" / "runs" / "prod" / "trip_fare" / "20261101T000000Z"
    monitor.mkdir(parents=True)
    (monitor / "summary.json").write_text(
        json.dumps({"status": "ok", "violations": [], "drift": {"drifted": False}})
    )
    return state, repo.path


def _tiny_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 0.2, 1], [0, 0.8, 1])
    ax.set_title("ROC")
    fig.savefig(path)
    plt.close(fig)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("console")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("SLIPWAY_CONSOLE_TOKEN", "SLIPWAY_CONSOLE_MONITOR_DIR", "GITHUB_TOKEN",
                     "GITHUB_REPOSITORY"):  # fmt: skip
            patch.delenv(name, raising=False)
        state, repo = build_world(root)
        env = {
            **state.env(),
            "SLIPWAY_FEATURE_REPO": str(repo),
            "SLIPWAY_CONSOLE_REPORTS_DIR": str(root / "reports"),
            "SLIPWAY_MONITOR_DIR": str(root / "monitor"),
        }
        for name, value in env.items():
            patch.setenv(name, value)
        yield {"state": state, "env": env, "root": root}


@pytest.fixture(scope="module")
def server(world: dict[str, Any]) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 in a thread; stopped (bounded) at the end."""
    import uvicorn

    from services.console.app import create_app
    from services.console.readers import ConsoleContext
    from services.console.settings import ConsoleSettings

    serving = wanted_versions()
    serving["dev/trip_fare"] = 2
    serving["staging/trip_fare"] = 2
    context = ConsoleContext.from_environment(ConsoleSettings(status_ttl=0))
    context.targets = {"local": FakeTarget(serving)}
    port = free_port()
    config = uvicorn.Config(
        create_app(context, require_token=False), host="127.0.0.1", port=port,
        log_level="warning", access_log=False,
    )  # fmt: skip
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, name="console-uvicorn", daemon=True)
    thread.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=WAIT)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chrome() as browser:
        yield browser


def test_pages_navigation_console_log_and_accessibility(server: str, driver: Any) -> None:
    if not AXE.is_file():
        pytest.fail(f"no {AXE}: npm install --no-save --prefix .cache axe-core@4.14.1")
    problems: dict[str, list[str]] = {}
    loads: dict[str, int] = {}

    def check(name: str) -> None:
        errors = severe(driver)
        assert not errors, f"{name}: browser console errors {errors}"
        loads[name] = driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0];"
            "return Math.round(n.loadEventEnd - n.startTime);"
        )
        problems[name] = axe_critical(driver)
        shot(driver, name)

    load(driver, server + "/", "Environments")
    assert "drifted" in cell(driver, "dev/trip_fare")
    assert "serving trip_fare:2" in cell(driver, "dev/trip_fare")
    assert "synced" in cell(driver, "dev/driver_ranking")
    assert "#1" in cell(driver, "prod/driver_ranking"), "the merged promotion PR"
    assert "pending #2" in cell(driver, "staging/trip_fare")
    assert "monitor: ok" in cell(driver, "prod/trip_fare")
    check("matrix")

    click(driver, "dev", "Environment dev")
    body = driver.find_element(By.TAG_NAME, "main").text
    assert "drifted" in body
    assert "slipway deploy apply dev/trip_fare" in body
    assert "slipway ci rollback dev/trip_fare --to 2" in body
    check("environment")

    load(driver, server + "/environments/staging", "Environment staging")
    assert "slipway promote --to staging --from dev --model driver_ranking" in (
        driver.find_element(By.TAG_NAME, "main").text
    )
    assert not severe(driver)
    assert not axe_critical(driver)

    click(driver, "Promotions", "Promotions")
    assert "staging/trip_fare" in driver.find_element(By.TAG_NAME, "main").text
    check("promotions")

    click(driver, "#2 Promote trip_fare:3 to staging", "#2 Promote trip_fare:3 to staging")
    plan = driver.find_element(By.CSS_SELECTOR, "section.plan")
    assert "Deploy plan" in plan.text
    assert "staging/trip_fare" in plan.text
    assert "promotion-path" in plan.text
    assert plan.find_elements(By.TAG_NAME, "table"), "the plan's tables are rendered"
    assert "<!--" not in driver.page_source.split('class="plan"')[1]
    check("promotion")

    click(driver, "Models", "Models")
    check("models")
    click(driver, "trip_fare", "Model trip_fare")
    check("model")
    driver.find_element(By.CSS_SELECTOR, "form.compare button").click()
    WebDriverWait(driver, WAIT).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "against")
    )
    assert "roc_auc" in driver.find_element(By.TAG_NAME, "main").text
    check("compare")
    load(driver, server + "/models/trip_fare/versions/3", "trip_fare:3")
    image = driver.find_element(By.CSS_SELECTOR, ".plots img")
    assert driver.execute_script("return arguments[0].naturalWidth", image) > 0
    check("version")

    click(driver, "Features", "Features")
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "driver_hourly_stats" in main
    assert "driver_stats_source" in main
    check("features")

    load(driver, server + "/no-such-page", "Error 404")
    assert [e for e in severe(driver) if "404" not in e] == []
    critical = {name: found for name, found in problems.items() if found}
    assert not critical, f"axe-core critical violations: {critical}"
    print("page loads in the browser (ms, navigation start to load end):", loads)


def test_slipway_console_serves_the_state(world: dict[str, Any], tmp_path: Path) -> None:
    """``slipway console`` itself: nothing is deployed on the local target, so all drifted."""
    port = free_port()
    env = {**os.environ, **world["env"], "SLIPWAY_CONSOLE_STATUS_TTL": "0"}
    log = (tmp_path / "console.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "slipway", "console", "--host", "127.0.0.1", "--port", str(port),
         "--format", "json"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        import httpx

        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=30).text
        assert "6 deployments" in page
        assert page.count("badge-drifted") >= 6
        plan = httpx.get(f"http://127.0.0.1:{port}/promotions/2", timeout=30).text
        assert "Deploy plan" in plan
        printed = (tmp_path / "console.log").read_text()
        assert f'"url": "http://127.0.0.1:{port}"' in printed
        assert '"token_required": false' in printed
    finally:
        process.terminate()
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WAIT)
        log.close()
    public = subprocess.run(
        [sys.executable, "-m", "slipway", "console", "--host", "0.0.0.0", "--port", str(port)],
        env={k: v for k, v in env.items() if k != "SLIPWAY_CONSOLE_TOKEN"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert public.returncode == 1
    assert "SLIPWAY_CONSOLE_TOKEN" in public.stderr


def test_console_reads_promotions_from_github(
    github_api: Any,  # noqa: F811
    world: dict[str, Any],
    tmp_path: Path,
) -> None:
    """On GitHubForge (the fake GitHub API) the same pages: the pending PR, its plan, its link."""
    from ci_support import FakeRegistry, github_forge, manifest_files, planner, seed_history
    from fastapi.testclient import TestClient

    from ci.comment import comment_plan
    from ci.promote import PromotionRequest, promote
    from ci.settings import CiSettings
    from services.console.app import create_app
    from services.console.readers import ConsoleContext
    from services.console.settings import ConsoleSettings

    github_api.state.add_repo("acme/churn", files=manifest_files())
    forge = github_forge(github_api.url)
    registry = FakeRegistry()
    registry.add()
    for version in (1, 2):
        seed_history(tmp_path / "deploy-state", "dev", version)
    plans = planner(tmp_path, registry)
    request = PromotionRequest(env="staging/driver_ranking", model="driver_ranking",
                               source_env="dev")  # fmt: skip
    opened = promote(request, forge=forge, registries=registry.opener(), planner=plans)
    assert opened.pr is not None
    number = opened.pr.number
    comment_plan(forge=forge, number=number, planner=plans,
                 manifests_dir="model_deploy/environments")  # fmt: skip
    context = ConsoleContext.from_environment(ConsoleSettings(status_ttl=0))
    context.ci = CiSettings(forge="github", github_repository="acme/churn",
                            github_api_url=github_api.url)  # fmt: skip
    context.forge = lambda: forge
    with TestClient(create_app(context, require_token=False)) as client:
        listing = client.get("/promotions").text
        assert f'href="/promotions/{number}"' in listing
        assert "staging/driver_ranking" in listing
        page = client.get(f"/promotions/{number}").text
    assert "Deploy plan" in page
    assert "slipway/plan: success" in page
    assert "test-token" not in page, "the GitHub token is never rendered"
    assert opened.pr.url in page, "the pull request's web address"
