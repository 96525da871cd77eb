"""The README's first command, end to end: the whole loop on the embedded default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kits.demo_ports import demo_ports

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(2400)  # may wait for another main job's ports (kits.demo_ports)
def test_main_job_runs_the_whole_loop(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}
    with demo_ports():  # its endpoints take the manifests' fixed ports while it runs
        result = subprocess.run(
            [sys.executable, "-m", "slipway", "demo", "--workdir", str(workdir)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        # read while no other main job can have taken the ports
        listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    # The tracking store, the explanations and a small batch scoring (issue 15).
    assert "MLflow runs: " in out
    assert "SHAP importance: " in out
    assert "Batch scoring: " in out
    for env_name in ("dev", "staging", "prod"):
        for model in ("driver_ranking", "trip_fare"):
            assert f"Promote {model} to {env_name}" in out
    assert '"model": "driver_ranking:1"' in out
    assert '"model": "trip_fare:1"' in out
    assert '"prediction": ' in out  # the regression endpoint answers {prediction}
    # Six promotion PRs (two models x three environments) were opened and merged; the
    # monitoring step's shifted window opened one retrain PR, left open.
    records = sorted((workdir / "gitops" / ".git" / "slipway" / "prs").glob("*.json"))
    prs = [json.loads(p.read_text()) for p in records]
    assert len(prs) == 7
    assert sorted(pr["state"] for pr in prs) == ["merged"] * 6 + ["open"]
    assert "Monitor both windows (slipway monitor run prod --model driver_ranking)" in out
    assert "monitor report:" in out
    # Every manifest on main names its model's promoted version; one file per model.
    manifests = workdir / "gitops" / "model_deploy" / "environments"
    for env_name in ("dev", "staging", "prod"):
        for model in ("driver_ranking", "trip_fare"):
            text = (manifests / env_name / f"{model}.yaml").read_text()
            assert f"name: {model}\n  version: 1" in text
    # Lineage: each version records the commit of the checkout it was built in, never the
    # gitops repository's.
    gitops_head = _head(workdir / "gitops")
    registry = workdir / "registry"
    for model in ("driver_ranking", "trip_fare"):
        listing = subprocess.run(
            [sys.executable, "-m", "slipway", "models", "list", model, "--format", "json"],
            cwd=ROOT,
            env={**env, "SLIPWAY_REGISTRY": "local", "SLIPWAY_REGISTRY_PATH": str(registry)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        doc = json.loads(listing.stdout)
        (version,) = doc.get("versions", doc) if isinstance(doc, dict) else doc
        sha = version["git_sha"]
        assert len(sha) == 40
        assert sha != gitops_head
        built_in = workdir / "build" if (workdir / "build").is_dir() else ROOT
        assert sha == _head(built_in)
    # The endpoints were stopped afterwards (no --keep-running).
    assert ":8603 " not in listening
    assert ":8613 " not in listening


def _head(repo: Path) -> str:
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()
