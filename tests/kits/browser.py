"""Headless Debian chromium through Selenium, and what the console's browser tests check with it.

Selenium is imported only by :func:`chrome` and the helpers that take its driver, so a module
that imports this kit can skip cleanly where chromium or selenium is missing (:func:`missing`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = ROOT / ".cache" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "console"
WAIT = 20.0


def missing() -> str | None:
    """Why a browser test cannot run here, or None."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return "needs Debian's chromium and chromium-driver (.ci/run installs them)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (the dev extra)"
    return None


@contextmanager
def chrome() -> Iterator[Any]:
    """A headless chromium driver that keeps the browser console log; always quit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1400,1000", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(WAIT * 3)
    browser.set_script_timeout(WAIT * 3)
    try:
        yield browser
    finally:
        browser.quit()


def severe(browser: Any) -> list[str]:
    """The SEVERE entries of the browser console log since the last call."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def shot(browser: Any, name: str) -> None:
    """A full-page screenshot (at most 2,600 px tall) in docs/console/<name>.png."""
    metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": min(size["width"], 1400), "scale": 1,
            "height": min(size["height"], 2600)}  # fmt: skip
    png = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"{name}.png").write_bytes(base64.b64decode(png["data"]))


def axe_critical(browser: Any) -> list[str]:
    """axe-core's critical violations of the current page (or its error), one line each."""
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    violations = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => [v.impact, v.id, v.nodes.length])))"
        ".catch(e => done([['error', String(e), 0]]));"
    )
    return [f"{v[1]} ({v[2]} nodes)" for v in violations if v[0] in ("critical", "error")]


def load(browser: Any, url: str, heading: str) -> None:
    """Open ``url`` and wait until its ``h1`` shows ``heading``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, WAIT).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), heading)
    )


def click(browser: Any, text: str, heading: str) -> None:
    """Click the link ``text`` and wait until the new page's ``h1`` shows ``heading``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT).until(
        expected_conditions.element_to_be_clickable((By.LINK_TEXT, text))
    ).click()
    WebDriverWait(browser, WAIT).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), heading)
    )


def cell(browser: Any, key: str) -> str:
    """The text of the matrix cell of ``env/model``."""
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.CSS_SELECTOR, f'td[data-key="{key}"]').text)
