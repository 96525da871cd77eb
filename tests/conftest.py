"""Shared fixtures: a copy of the checked-in Feast repo in a temp folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FEATURE_REPO = ROOT / "feature_repo"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _cache_packages_distributions() -> None:
    """Map import names to installed distributions once per test process, not per call.

    Every saved bundle pins its requirements through ``packages_distributions()``, which reads
    the metadata of every installed distribution (0.2-0.6 s in this venv). Nothing a test does
    installs or removes a distribution, so the answer is the same all session; each call still
    gets its own copy.
    """
    import functools
    import importlib.metadata

    scan = functools.cache(importlib.metadata.packages_distributions)

    def packages_distributions() -> dict[str, list[str]]:
        return {name: list(owners) for name, owners in scan().items()}

    importlib.metadata.packages_distributions = packages_distributions  # type: ignore[assignment]


_cache_packages_distributions()


def copy_feature_repo(target: Path) -> Path:
    """Copy the repo's definitions, configs and suites (not its data) into ``target``."""
    shutil.copytree(
        FEATURE_REPO,
        target,
        ignore=shutil.ignore_patterns("data", "__pycache__"),
        dirs_exist_ok=True,
    )
    return target


@pytest.fixture
def feature_repo_copy(tmp_path: Path) -> Path:
    return copy_feature_repo(tmp_path / "feature_repo")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration/ and tests/contract/ as ``integration``."""
    del config
    for item in items:
        parts = item.path.parts
        if "integration" in parts or "contract" in parts:
            item.add_marker(pytest.mark.integration)


def _orphans(basetemp: Path) -> list[tuple[int, str]]:
    """Processes still running whose command line points into this session's temp folders."""
    marker = str(basetemp)
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in command and "pytest" not in command.split(" ")[0:3]:
            found.append((int(entry.name), command.strip()))
    return found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a test left a server running (and stop it): every test must clean up."""
    del exitstatus
    if hasattr(session.config, "workerinput") or not Path("/proc").is_dir():
        return  # xdist workers share the controller's basetemp root: the controller checks
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    try:
        basetemp = factory.getbasetemp()
    except (OSError, ValueError):
        return
    import signal
    import time

    leftovers = _orphans(basetemp)
    if not leftovers:
        return
    time.sleep(2)  # a process that is shutting down gets a moment to finish
    leftovers = _orphans(basetemp)
    for pid, _ in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    if leftovers:
        lines = "\n".join(f"  pid {pid}: {command[:200]}" for pid, command in leftovers)
        session.config.get_terminal_writer().line(
            f"\nERROR: tests left {len(leftovers)} process(es) running (now killed):\n{lines}",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
