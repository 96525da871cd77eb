"""The GitOps half of the main job: build, register, promote by PR through every environment.

Each step runs the real ``slipway`` command a user or a workflow would run, as a subprocess
with settings pointed at the demo's own folder: a local registry, a local git forge (a git
repository holding the environment manifests) and local endpoints.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from foundation.ports import free_port
from foundation.settings import load_settings
from slipway.errors import DemoError

ENVIRONMENTS = ("dev", "staging", "prod")
MODEL = "driver_ranking"
MANIFESTS = Path("model_deploy") / "environments"


@dataclass(frozen=True)
class LoopPaths:
    """Where the demo keeps each embedded component."""

    root: Path
    feature_repo: Path

    @property
    def git_repo(self) -> Path:
        """The local forge's repository (holds the manifests)."""
        return self.root / "gitops"

    @property
    def registry(self) -> Path:
        """The local model registry."""
        return self.root / "registry"

    @property
    def runs(self) -> Path:
        """Build run folders."""
        return self.root / "runs"

    @property
    def deploy_state(self) -> Path:
        """Local deploy target state (pids, ports, history)."""
        return self.root / "deploy"

    def env(self) -> dict[str, str]:
        """Environment for every ``slipway`` subprocess of the loop."""
        return {
            **os.environ,
            "GX_ANALYTICS_ENABLED": "false",
            "SLIPWAY_FEATURE_REPO": str(self.feature_repo),
            "SLIPWAY_FEATURE_ENV": "local",
            "SLIPWAY_REGISTRY": "local",
            "SLIPWAY_REGISTRY_PATH": str(self.registry),
            "SLIPWAY_FORGE": "local",
            "SLIPWAY_REPO_DIR": str(self.git_repo),
            "SLIPWAY_BASE_BRANCH": "main",
            "SLIPWAY_DEPLOY_MANIFESTS_DIR": str(self.git_repo / MANIFESTS),
            "SLIPWAY_DEPLOY_STATE_DIR": str(self.deploy_state),
            "COLUMNS": "120",
        }


def slipway(paths: LoopPaths, *args: str, timeout: float = 600) -> str:
    """Run one ``slipway`` command of the loop and return its stdout.

    Raises:
        DemoError: The command failed; the message carries its last error line.
    """
    result = subprocess.run(
        [sys.executable, "-m", "slipway", *args],
        cwd=paths.git_repo,
        env=paths.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {result.returncode}"
        raise DemoError(f"`slipway {' '.join(args)}` failed: {last}")
    return result.stdout


def init_gitops_repo(*, paths: LoopPaths, source: Path) -> None:
    """Create the demo's git repository holding the environment manifests, nothing deployed.

    Args:
        paths: Demo paths.
        source: The checked-in ``model_deploy/environments`` folder.
    """
    repo = paths.git_repo
    if repo.exists():
        shutil.rmtree(repo)
    target = repo / MANIFESTS
    target.mkdir(parents=True)
    for manifest in sorted(source.glob("*.yaml")):
        text = manifest.read_text()
        if manifest.stem == "dev":
            text = _without_block(text, "model", "model: null\n")
        # The sample prod freeze window is real policy; the demo must run on any date.
        text = _without_block(text, "freeze_windows", "freeze_windows: []\n")
        (target / manifest.name).write_text(text)
    schema = source.parent / "manifest.schema.json"
    if schema.is_file():
        shutil.copy(schema, repo / "model_deploy" / schema.name)
    git = ["git", "-c", "user.name=Slipway Demo", "-c", "user.email=demo@slipway.invalid"]
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run([*git, *command], cwd=repo, check=True, capture_output=True)


def _without_block(text: str, key: str, replacement: str) -> str:
    """Replace a top-level ``key:`` block of a manifest with ``replacement``."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if line.startswith(f"{key}:"):
            out.append(replacement)
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t", "-")) or not line.strip()):
            if not line.strip():
                out.append(line)
                skipping = False
            continue
        skipping = False
        out.append(line)
    return "".join(out)


def latest_version(paths: LoopPaths) -> int:
    """The newest registered version of the demo model."""
    listing = json.loads(slipway(paths, "models", "list", MODEL, "--format", "json"))
    versions = listing.get("versions", listing) if isinstance(listing, dict) else listing
    if not versions:
        raise DemoError("the build registered no model version")
    return max(int(v["version"]) for v in versions)


def promote_and_deploy(paths: LoopPaths, env: str, *, version: int | None) -> dict[str, Any]:
    """Open (or adopt) the promotion PR, comment the plan, approve, merge, apply.

    Args:
        paths: Demo paths.
        env: Target environment.
        version: Version to promote to ``dev``; later environments take the previous one's.

    Returns:
        Facts for the summary (PR number, plan excerpt).
    """
    source = ["--from", ENVIRONMENTS[ENVIRONMENTS.index(env) - 1]] if version is None else []
    wanted = [f"{MODEL}:{version}"] if version is not None else []
    out = slipway(paths, "promote", "--to", env, *wanted, *source, "--format", "json")
    result = json.loads(out)
    pr = result.get("pr_number")
    facts: dict[str, Any] = {"env": env, "pr": pr, "model": result.get("model")}
    if pr is not None:
        slipway(paths, "ci", "comment-plan", "--pr", str(pr), "--env", env)
        slipway(paths, "ci", "pr", "approve", str(pr), "--by", "demo-reviewer")
        slipway(paths, "ci", "pr", "merge", str(pr))
    subprocess.run(["git", "checkout", "-q", "main"], cwd=paths.git_repo, check=True)
    facts["apply"] = slipway(paths, "deploy", "apply", env).strip().splitlines()[-1:]
    return facts


@contextmanager
def feature_server(paths: LoopPaths) -> Iterator[str]:
    """Run ``slipway features serve`` on a free port for the duration of the block."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slipway",
            "features",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=paths.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise DemoError("the feature server did not become ready within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def stop_endpoints(paths: LoopPaths) -> None:
    """Stop every local endpoint the loop started (state under the demo folder)."""
    from model_deploy.service import Deployer
    from model_deploy.settings import DeploySettings

    if not (paths.git_repo / MANIFESTS).is_dir():
        return
    settings = load_settings(
        DeploySettings,
        deploy_manifests_dir=paths.git_repo / MANIFESTS,
        deploy_state_dir=paths.deploy_state,
    )
    deployer = Deployer(settings=settings)
    for env in ENVIRONMENTS:
        loaded = deployer.load(env)
        manifest = loaded.manifest
        deployer.target(manifest.target.kind).stop(env=env, manifest=manifest)
