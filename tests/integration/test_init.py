"""Acceptance: ``slipway init`` in an empty folder, then the new project's two README commands.

The project runs with the slipway of this environment on PATH (what ``pip install slipway``
gives a user): ``make demo`` generates data, gates it, applies and materializes the feature
repo, builds, gates and registers every model (the template's and one added by ``slipway model
new``) and plans dev; ``make test`` runs the project's own tests. Each command is bounded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slipway.cli.app import run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("make") is None, reason="needs make"),
]

BIN = Path(sys.executable).parent


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    env["GX_ANALYTICS_ENABLED"] = "false"
    return env


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{args} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("someone's project\n")
    assert run(["init", str(tmp_path)]) == 1
    assert (tmp_path / "README.md").read_text() == "someone's project\n"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_init_then_the_readme_commands_pass(tmp_path: Path) -> None:
    env = _env(tmp_path)
    root = tmp_path / "acme"
    root.mkdir()
    _run(["slipway", "init", ".", "--name", "Acme Renewals"], cwd=root, env=env, timeout=60)
    _run(
        ["slipway", "model", "new", "renewal_value", "--task", "regression"],
        cwd=root,
        env=env,
        timeout=60,
    )
    readme = (root / "README.md").read_text()
    commands = re.findall(r"^(make \w+)", readme, flags=re.MULTILINE)
    assert commands == ["make demo", "make test"]

    timings = {}
    for command in commands:
        started = time.monotonic()
        _run(command.split(), cwd=root, env=env, timeout=240)
        timings[command] = round(time.monotonic() - started, 1)
    print(f"timings: {timings}")

    listed = _run(["slipway", "models", "list", "--format", "json"], cwd=root, env=env, timeout=60)
    names = sorted({version["model_name"] for version in json.loads(listed)})
    assert names == ["churn", "renewal_value"]
    assert (root / "feature_repo" / "data" / "renewals.parquet").is_file()
