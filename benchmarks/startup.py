"""Benchmark: how long the ``slipway`` command takes to start and answer, as a new process.

Each command runs ``--runs`` times (default 5) after one warm-up run that also writes the
bytecode caches, on the embedded defaults: a local registry holding a few versions, a local git
forge with one pull request, the checked-in manifests, deploy state in a temp folder. Prints the
median, min and max wall seconds per command, as Markdown for docs/benchmarks.md.

Usage::

    .venv/bin/python benchmarks/startup.py [--runs 5]

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


COMMANDS: list[tuple[str, list[str]]] = [
    ("slipway --help", ["--help"]),
    ("slipway models list", ["models", "list"]),
    ("slipway ci pr list", ["ci", "pr", "list"]),
    ("slipway deploy plan dev", ["deploy", "plan", "dev"]),
]


def main() -> None:
    """Print a Markdown table of start-up times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slipway-startup-") as tmp:
        root = Path(tmp)
        env = _state(root)
        print("| command | median s | min s | max s | runs |\n|---|---|---|---|---|")
        for label, command in COMMANDS:
            _run(command, env=env, cwd=root)  # warm-up: writes bytecode caches
            times = [_run(command, env=env, cwd=root) for _ in range(args.runs)]
            print(
                f"| `{label}` | {statistics.median(times):.3f} | {min(times):.3f} | "
                f"{max(times):.3f} | {args.runs} |"
            )


if __name__ == "__main__":
    main()
