"""The README's first command, end to end: the whole loop on the embedded default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_main_job_runs_the_whole_loop(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "slipway", "demo", "--workdir", str(workdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for env_name in ("dev", "staging", "prod"):
        assert f"Promote to {env_name}" in out
    assert '"model": "driver_ranking:1"' in out
    # Three promotion PRs were opened and merged in the local forge.
    records = sorted((workdir / "gitops" / ".git" / "slipway" / "prs").glob("*.json"))
    prs = [json.loads(p.read_text()) for p in records]
    assert len(prs) == 3
    assert all(pr["state"] == "merged" for pr in prs)
    # Every manifest on main names the promoted version.
    for env_name in ("dev", "staging", "prod"):
        text = (
            workdir / "gitops" / "model_deploy" / "environments" / f"{env_name}.yaml"
        ).read_text()
        assert "version: 1" in text
    # The endpoints were stopped afterwards (no --keep-running).
    lsof = subprocess.run(["ss", "-ltn"], capture_output=True, text=True, check=False).stdout
    assert ":8603 " not in lsof
