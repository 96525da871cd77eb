"""Every page within 300 ms on 10 environments x 20 models x 200 versions (median of 5)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kits.console_state import large_state

from services.console.app import create_app
from services.console.readers import ConsoleContext
from services.console.settings import ConsoleSettings

pytestmark = pytest.mark.serial
BUDGET = 0.300
PAGES = [
    "/",
    "/environments/env05",
    "/promotions",
    "/models",
    "/models/model_07",
    "/models/model_07/versions/195",
    "/models/model_07/compare?a=3&b=195",
    "/features",
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("large")
    state = large_state(root)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in state.env().items():
            patch.setenv(name, value)
        patch.setenv("SLIPWAY_FEATURE_REPO", str(Path(root) / "no-feature-repo"))
        patch.setenv("SLIPWAY_CONSOLE_REPORTS_DIR", str(Path(root) / "reports"))
        context = ConsoleContext.from_environment(ConsoleSettings())
        with TestClient(create_app(context, require_token=False)) as c:
            yield c


@pytest.mark.parametrize("path", PAGES)
def test_page_within_budget(client: TestClient, path: str) -> None:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        answer = client.get(path)
        timings.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text[-500:]
    median = statistics.median(timings)
    assert median <= BUDGET, f"{path}: median {median * 1000:.0f} ms of {timings}"


def test_the_state_is_the_large_one(client: TestClient) -> None:
    html = client.get("/").text
    assert html.count('<td data-key="') == 200
    assert "200 deployments" in html
    model = client.get("/models/model_07").text
    assert model.count('href="/models/model_07/versions/') == 200
