"""The GitOps half of the main job: build, register, promote by PR through every environment.

Each step runs the real ``slipway`` command a user or a workflow would run, as a subprocess
with settings pointed at the demo's own folder: a local registry, a local git forge (a git
repository holding the environments file and one manifest per environment and model) and
local endpoints (one per environment and model). The build runs in a git checkout of the
model definitions (the Slipway checkout when it is clean, else a build repository committed
under the demo folder), so every version records the commit it was built from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from foundation.ports import free_port
from foundation.settings import load_settings
from slipway.demo.commands import MANIFESTS, LoopPaths, Started, finish_all, slipway, start
from slipway.errors import DemoError

ENVIRONMENTS = ("dev", "staging", "prod")
MODELS = ("driver_ranking", "trip_fare")
MODEL = MODELS[0]
ENVIRONMENTS_FILE = Path("model_deploy") / "environments.yaml"
MODEL_FOLDERS = Path("model_build") / "models"


def init_gitops_repo(*, paths: LoopPaths, source: Path) -> None:
    """Create the demo's git repository: the environments file and every manifest.

    Nothing is deployed (dev's versions become ``model: null`` too).

    Args:
        paths: Demo paths.
        source: The checked-in ``model_deploy`` folder (``environments.yaml``,
            ``environments/<env>/<model>.yaml``).
    """
    repo = paths.git_repo
    if repo.exists():
        shutil.rmtree(repo)
    for manifest in sorted((source / "environments").glob("*/*.yaml")):
        text = manifest.read_text()
        if manifest.parent.name == "dev":
            text = _without_block(text, "model", "model: null\n")
        if manifest.parent.name == "prod":
            text = _monitored(text)
        target = repo / MANIFESTS / manifest.parent.name / manifest.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (repo / ENVIRONMENTS_FILE).write_text(_unfrozen(source / "environments.yaml"))
    schema = source / "manifest.schema.json"
    if schema.is_file():
        shutil.copy(schema, repo / "model_deploy" / schema.name)
    _commit(repo, "init")


def _unfrozen(path: Path) -> str:
    """The environments file without freeze windows (real policy; the demo runs on any date)."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    document = yaml.load(path.read_text())
    for rules in (document.get("environments") or {}).values():
        defaults = rules.get("defaults") if hasattr(rules, "get") else None
        if defaults is not None and "freeze_windows" in defaults:
            defaults["freeze_windows"] = []
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _monitored(text: str) -> str:
    """A prod manifest for the demo's monitoring step: every request captured, no drift.html.

    The checked-in prod manifests capture 20% (SageMaker's default, for real traffic); the
    demo sends a few dozen requests and wants each window whole. Evidently's own drift report
    (``drift.html``, about 2.5 s of CPU per run) is left out; Slipway's ``report.html`` is
    written. Both through the manifest, as a user would change them (line edits: the file's
    comments and layout stay).
    """
    text = _without_block(text, "data_capture", "data_capture:\n  sampling_percentage: 100\n")
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("monitoring:")), None)
    if start is None:
        return text.rstrip("\n") + "\n\nmonitoring:\n  evidently_html: false\n"
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    kept = [line for line in lines[start + 1 : end] if not line.startswith("  evidently_html:")]
    return "".join([*lines[: start + 1], "  evidently_html: false\n", *kept, *lines[end:]])


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


def _commit(repo: Path, message: str) -> None:
    git = ["git", "-c", "user.name=Slipway Demo", "-c", "user.email=demo@slipway.invalid"]
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", message]):
        subprocess.run([*git, *command], cwd=repo, check=True, capture_output=True)


def build_checkout(*, paths: LoopPaths, checkout: Path) -> Path:
    """The git work tree the build runs in, so a version records the commit it was built from.

    The Slipway checkout itself when it is a clean git work tree; otherwise a build repository
    under the demo folder holding the model definitions, committed (its commit is the one
    recorded).
    """
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True, check=False
    )
    if status.returncode == 0 and not status.stdout.strip() and (checkout / MODEL_FOLDERS).is_dir():
        return checkout
    repo = paths.build_repo
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(
        checkout / MODEL_FOLDERS,
        repo / MODEL_FOLDERS,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    _commit(repo, "models")
    return repo


def build_models(paths: LoopPaths, *, checkout: Path, now: str) -> list[dict[str, Any]]:
    """Build every demo model in ``checkout``, one ``slipway build run --model`` process each.

    The builds run side by side (each model has its own registry folder, run folder and
    tracking experiment; :func:`init_tracking` made the shared tracking store first).

    Returns:
        Each model's build record (``--format json``), in :data:`MODELS` order.

    Raises:
        DemoError: A model failed to build or registered no version.
    """
    common = (
        "--models-dir", str(checkout / MODEL_FOLDERS),
        "--repo", str(paths.feature_repo),
        "--run-dir", str(paths.runs),
        "--registry-path", str(paths.registry),
        "--now", now,
        "--format", "json",
    )  # fmt: skip
    started = [
        start(paths, "build", "run", "--model", name, *common, cwd=checkout) for name in MODELS
    ]
    builds = [build for out in finish_all(started) for build in json.loads(out).get("builds", [])]
    found = {b["model"]: b for b in builds if b.get("version")}
    missing = [name for name in MODELS if name not in found]
    if missing:
        raise DemoError(f"the build registered no version of {', '.join(missing)}")
    return [found[name] for name in MODELS]


def init_tracking(paths: LoopPaths) -> Started:
    """Start ``slipway runs list``: it creates the embedded tracking store the builds share.

    Run before the builds (which then only add runs), so two builds never create the store's
    tables at once.
    """
    return start(
        paths,
        "runs", "list", "--registry-path", str(paths.registry), "--format", "json",
        cwd=paths.root,
    )  # fmt: skip


def promote(paths: LoopPaths, env: str, *, model: str, version: str | None) -> dict[str, Any]:
    """Promote ``model`` to ``env`` by pull request: PR, plan comment, approval, merge.

    Args:
        paths: Demo paths.
        env: Target environment.
        model: The model (its manifest ``<env>/<model>.yaml``; the other model's is untouched).
        version: ``MODEL:VERSION`` to promote to ``dev``; later environments take the previous
            one's.

    Returns:
        Facts for the summary (PR number, what was promoted); :func:`deploy` adds the apply.
    """
    if version is None:
        what = ["--from", ENVIRONMENTS[ENVIRONMENTS.index(env) - 1], "--model", model]
    else:
        what = [version]
    out = slipway(paths, "promote", "--to", env, *what, "--format", "json")
    result = json.loads(out)
    pr = result.get("pr_number")
    key = f"{env}/{model}"
    facts: dict[str, Any] = {"env": key, "pr": pr, "model": result.get("model")}
    if pr is not None:
        slipway(paths, "ci", "comment-plan", "--pr", str(pr), "--env", key)
        slipway(paths, "ci", "pr", "approve", str(pr), "--by", "demo-reviewer")
        slipway(paths, "ci", "pr", "merge", str(pr))
    subprocess.run(["git", "checkout", "-q", "main"], cwd=paths.git_repo, check=True)
    return facts


def deploy(paths: LoopPaths, promoted: list[dict[str, Any]]) -> None:
    """``slipway deploy apply`` every promoted deployment at once (main is checked out).

    Each deployment has its own lock, state and endpoint, and no git command runs meanwhile,
    so the applies run side by side; each fact gets its apply's last line.

    Raises:
        DemoError: An apply failed (after every apply finished).
    """
    started = [start(paths, "deploy", "apply", facts["env"]) for facts in promoted]
    for facts, out in zip(promoted, finish_all(started), strict=True):
        facts["apply"] = out.strip().splitlines()[-1:]


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
    for key in deployer.deployments():
        manifest = deployer.load(key).manifest
        deployer.target(manifest.target.kind).stop(env=key, manifest=manifest)
