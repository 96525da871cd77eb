"""Start-up of the feature server's workers: each answers ``/readyz`` soon after it starts.

Workers are forked from a parent that has already imported Feast and built the app, so a
worker's own start-up is the registry load and the first store ping. Measured from outside
(``kits.startup``: the worker that accepted each probe is found through ``/proc``), so the
test would time uvicorn's spawned workers (5 s and more each, re-importing Feast) the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kits.feature_repos import demo_repo
from kits.feature_servers import service_process
from kits.startup import worker_starts

from feature_store.demo_data import DemoSizes
from feature_store.repo import FeatureRepo

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)"),
]

WORKER_READY_SECONDS = 3.0


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    sizes = DemoSizes(drivers=4, customers=4, days=2, trips=20)
    return demo_repo(tmp_path_factory.mktemp("startup") / "feature_repo", sizes=sizes, seed=4)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [1, 2])
def test_each_worker_is_ready_within_three_seconds_of_its_start(
    repo: FeatureRepo, workers: int
) -> None:
    server = service_process(repo=repo.path, workers=workers)
    starts = worker_starts(server.args, port=server.port, workers=workers, env=server.env)
    assert len({start.pid for start in starts}) == workers
    for start in starts:
        assert start.ready_after_start <= WORKER_READY_SECONDS, starts
    print(f"\n{workers} worker(s): {[round(s.ready_after_start, 2) for s in starts]} s")


def test_a_bad_repo_fails_before_any_worker_starts(tmp_path: Path) -> None:
    server = service_process(repo=tmp_path / "absent", workers=2, log=tmp_path / "server.log")
    with server:
        assert server.proc is not None
        assert server.proc.wait(timeout=60) == 1
    log = (tmp_path / "server.log").read_text()
    assert "error: " in log
    assert "feature_store.yaml: file not found" in log
    assert "Started server process" not in log
