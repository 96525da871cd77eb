"""Benchmark: start-up of the ``slipway`` command and the feature server, and the main job.

Each command runs ``--runs`` times (default 5) after one warm-up run that also writes the
bytecode caches, on the embedded defaults: a local registry holding a few versions, a local git
forge, the checked-in manifests, deploy state in a temp folder. A feature-server worker is
timed from its own process start to its first ``/readyz`` 200 (``tests/kits/startup.py``,
``--workers 2``, every worker of every run counted). With ``--demo-runs N`` the main job
(``slipway demo``, a fresh folder each time) is timed too. Prints the machine's load before and
after and one Markdown table (median, min, max, runs, the issue-10 target) to paste into
docs/benchmarks.md ("Startup and main job").

Usage::

    .venv/bin/python benchmarks/startup.py [--runs 5] [--demo-runs 5]

Nothing is timed in the test suite; this script only prints numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLIPWAY = [sys.executable, "-m", "slipway"]


def _run(args: list[str], *, env: dict[str, str], cwd: Path) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        [*SLIPWAY, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"`slipway {' '.join(args)}` failed: {done.stderr.strip()[-400:]}")
    return seconds


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@slipway.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _state(root: Path) -> dict[str, str]:
    """A registry with three versions and a forge with one promotion PR, under ``root``."""
    registry, forge, deploy = root / "registry", root / "forge", root / "deploy"
    forge.mkdir()
    manifests = forge / "model_deploy" / "environments"
    shutil.copytree(ROOT / "model_deploy" / "environments", manifests)
    shutil.copy(ROOT / "model_deploy" / "environments.yaml", manifests.parent)
    _git(forge, "init", "-q", "-b", "main")
    _git(forge, "add", "-A")
    _git(forge, "commit", "-q", "-m", "init")
    env = {
        **os.environ,
        "SLIPWAY_REGISTRY": "local",
        "SLIPWAY_REGISTRY_PATH": str(registry),
        "SLIPWAY_FORGE": "local",
        "SLIPWAY_REPO_DIR": str(forge),
        "SLIPWAY_DEPLOY_MANIFESTS_DIR": str(manifests),
        "SLIPWAY_DEPLOY_STATE_DIR": str(deploy),
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    _seed_registry(registry)
    return env


def _seed_registry(path: Path) -> None:
    """Register three small versions through the registry's own API."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from pathlib import Path
from kits.registry_seed import seed
seed(Path({str(path)!r}), versions=3)
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


COMMANDS: list[tuple[str, list[str], float]] = [
    ("slipway --help", ["--help"], 0.3),
    ("slipway models list", ["models", "list"], 1.0),
    ("slipway ci pr list", ["ci", "pr", "list"], 1.0),
    ("slipway deploy plan dev", ["deploy", "plan", "dev"], 1.0),
]
WORKER_TARGET = 3.0
DEMO_TARGET = 90.0


def _load() -> str:
    """The 1, 5 and 15 minute load averages (``uptime``'s), and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def _worker_starts(root: Path, *, runs: int) -> list[float]:
    """Seconds from each feature-server worker's start to its first 200 (2 workers a run)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from kits.feature_repos import demo_repo
    from kits.feature_servers import service_process
    from kits.startup import worker_starts

    from feature_store.demo_data import DemoSizes

    sizes = DemoSizes(drivers=4, customers=4, days=2, trips=20)
    repo = demo_repo(root / "feature_repo", sizes=sizes, seed=4)
    found: list[float] = []
    for run in range(runs + 1):  # the first run is the warm-up
        server = service_process(repo=repo.path, workers=2)
        starts = worker_starts(server.args, port=server.port, workers=2, env=server.env)
        if run:
            found.extend(start.ready_after_start for start in starts)
    return found


def _demo(root: Path, *, runs: int) -> list[float]:
    """Wall seconds of ``slipway demo`` in a fresh folder, ``runs`` times."""
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return [
        _run(["demo", "--workdir", str(root / f"demo{n}")], env=env, cwd=ROOT) for n in range(runs)
    ]


def _row(label: str, times: list[float], target: float) -> str:
    median = statistics.median(times)
    verdict = "met" if median <= target else "missed"
    return (
        f"| {label} | {median:.3f} | {min(times):.3f} | {max(times):.3f} | {len(times)} | "
        f"<= {target:g} s ({verdict}) |"
    )


def main() -> None:
    """Print the load and a Markdown table of start-up (and main job) times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--demo-runs", type=int, default=0, help="time slipway demo too")
    args = parser.parse_args()
    print(f"before: {_load()}")
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="slipway-startup-") as tmp:
        root = Path(tmp)
        env = _state(root)
        for label, command, target in COMMANDS:
            _run(command, env=env, cwd=root)  # warm-up: writes bytecode caches
            times = [_run(command, env=env, cwd=root) for _ in range(args.runs)]
            rows.append(_row(f"`{label}`", times, target))
        workers = _worker_starts(root, runs=args.runs)
        rows.append(_row("feature-server worker ready (`--workers 2`)", workers, WORKER_TARGET))
        if args.demo_runs:
            demo = _demo(root, runs=args.demo_runs)
            rows.append(_row("`slipway demo` (main job, wall)", demo, DEMO_TARGET))
    print(f"after:  {_load()}\n")
    print("| measurement | median s | min s | max s | runs | target |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
