"""The workflows' helper scripts (.github/scripts/): changed manifests and models, built version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from github_api.fixtures import github_api, github_server  # noqa: F401 - pytest fixtures
from github_api.server import RunningServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / ".github" / "scripts"

pytestmark = pytest.mark.integration


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _run(script: str, *args: str, cwd: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output)},
    )


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    envs = root / "model_deploy" / "environments"
    for name in ("prod", "dev", "staging", "qa"):
        (envs / name).mkdir(parents=True)
        (envs / name / "m.yaml").write_text("model: null\n")
    (envs / "dev" / "fare.yaml").write_text("model: null\n")
    (root / "model_deploy" / "environments.yaml").write_text(
        "environments:\n  dev: {}\n  staging: {}\n  prod: {}\n  qa: {}\n"
    )
    (root / "README.md").write_text("hi\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    return root


def _change(repo: Path, *paths: str) -> tuple[str, str]:
    base = _git(repo, "rev-parse", "HEAD")
    for path in paths:
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(target.read_text() + "# changed\n" if target.exists() else "new\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "change")
    return base, _git(repo, "rev-parse", "HEAD")


def test_changed_envs_lists_touched_manifests_in_promotion_order(
    repo: Path, tmp_path: Path
) -> None:
    base, head = _change(
        repo, "model_deploy/environments/prod/m.yaml", "model_deploy/environments/dev/m.yaml"
    )
    out = tmp_path / "out"
    done = _run("changed_envs.py", "--base", base, "--head", head, cwd=repo, output=out)
    assert done.returncode == 0, done.stderr
    outputs = _outputs(out)
    assert outputs == {
        "envs": '["dev/m", "prod/m"]',
        "deployments": outputs["deployments"],
        "env-args": "--env dev/m --env prod/m",
        "any": "true",
        "policy": "false",
    }
    assert json.loads(outputs["deployments"]) == [
        {"key": "dev/m", "env": "dev", "model": "m"},
        {"key": "prod/m", "env": "prod", "model": "m"},
    ]


def test_changed_envs_ignores_other_files(repo: Path, tmp_path: Path) -> None:
    base, head = _change(repo, "README.md", "model_deploy/environments/notes.txt")
    out = tmp_path / "out"
    done = _run("changed_envs.py", "--base", base, "--head", head, cwd=repo, output=out)
    assert done.returncode == 0, done.stderr
    assert _outputs(out) == {
        "envs": "[]",
        "deployments": "[]",
        "env-args": "",
        "any": "false",
        "policy": "false",
    }


def test_changed_envs_uses_the_merge_base(repo: Path, tmp_path: Path) -> None:
    """Main moving on after the branch point does not count as the pull request's change."""
    base = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-qb", "feature")
    _, head = _change(repo, "model_deploy/environments/staging/m.yaml")
    _git(repo, "checkout", "-q", "main")
    _, main_tip = _change(repo, "model_deploy/environments/prod/m.yaml")
    out = tmp_path / "out"
    done = _run("changed_envs.py", "--base", main_tip, "--head", head, cwd=repo, output=out)
    assert done.returncode == 0, done.stderr
    assert json.loads(_outputs(out)["envs"]) == ["staging/m"]
    assert base != main_tip


@pytest.mark.parametrize("base", ["", "0" * 40, "f" * 40])
def test_changed_envs_unknown_base_selects_every_environment(
    repo: Path, tmp_path: Path, base: str
) -> None:
    out = tmp_path / "out"
    done = _run("changed_envs.py", "--base", base, cwd=repo, output=out)
    assert done.returncode == 0, done.stderr
    assert json.loads(_outputs(out)["envs"]) == [
        "dev/fare", "dev/m", "staging/m", "prod/m", "qa/m",
    ]  # fmt: skip


def test_changed_envs_flags_a_change_to_the_rules(repo: Path, tmp_path: Path) -> None:
    base, head = _change(repo, "model_deploy/policies/freeze.py")
    output = tmp_path / "out"
    done = _run("changed_envs.py", "--base", base, "--head", head, cwd=repo, output=output)
    assert done.returncode == 0, done.stderr
    assert _outputs(output) == {
        "envs": "[]",
        "deployments": "[]",
        "env-args": "",
        "any": "false",
        "policy": "true",
    }
    base, head = _change(repo, "model_deploy/environments.yaml")
    output = tmp_path / "out-envs"
    _run("changed_envs.py", "--base", base, "--head", head, cwd=repo, output=output)
    assert _outputs(output)["policy"] == "true", "the environments file is policy"
    base, head = _change(repo, ".github/CODEOWNERS", "model_deploy/environments/dev/m.yaml")
    output = tmp_path / "out2"
    _run("changed_envs.py", "--base", base, "--head", head, cwd=repo, output=output)
    assert _outputs(output)["policy"] == "true"
    assert _outputs(output)["envs"] == '["dev/m"]'
    base, head = _change(repo, "README.md", "model_deploy/environments/prod/m.yaml")
    output = tmp_path / "out3"
    _run("changed_envs.py", "--base", base, "--head", head, cwd=repo, output=output)
    assert _outputs(output)["policy"] == "false"


def test_changed_envs_only(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run("changed_envs.py", "--only", "staging", cwd=repo, output=out)
    assert done.returncode == 0, done.stderr
    assert _outputs(out) == {
        "envs": '["staging/m"]',
        "deployments": '[{"key": "staging/m", "env": "staging", "model": "m"}]',
        "env-args": "--env staging/m",
        "any": "true",
        "policy": "false",
    }
    done = _run("changed_envs.py", "--only", "dev", cwd=repo, output=out)
    assert json.loads(_outputs(out)["envs"]) == ["dev/fare", "dev/m"], "every model of dev"
    done = _run("changed_envs.py", "--only", "dev/fare", cwd=repo, output=out)
    assert json.loads(_outputs(out)["envs"]) == ["dev/fare"]
    missing = _run("changed_envs.py", "--only", "nope", cwd=repo, output=out)
    assert missing.returncode == 1
    assert "nope[/MODEL].yaml" in missing.stderr


def test_changed_envs_skips_deleted_manifests(repo: Path, tmp_path: Path) -> None:
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "model_deploy/environments/qa/m.yaml").unlink()
    _git(repo, "commit", "-qam", "drop qa")
    out = tmp_path / "out"
    done = _run("changed_envs.py", "--base", base, "--head", "HEAD", cwd=repo, output=out)
    assert done.returncode == 0, done.stderr
    assert _outputs(out)["any"] == "false"


def _write_run(run_dir: Path, run_id: str, document: dict[str, object]) -> None:
    folder = run_dir / run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run_id": run_id, **document}))


def test_build_version_reads_the_registered_version(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _write_run(
        runs,
        "20260101T000000Z-abc",
        {"status": "registered", "version": {"ref": "driver_ranking:7", "artifact_uri": "x"}},
    )
    out = tmp_path / "out"
    done = _run("build_version.py", str(runs), cwd=tmp_path, output=out)
    assert done.returncode == 0, done.stderr
    assert _outputs(out) == {
        "model": "driver_ranking",
        "version": "driver_ranking:7",
        "run-id": "20260101T000000Z-abc",
        "status": "registered",
        "git-sha": "",
    }


def test_fault9_the_registered_version_must_record_the_build_commit(tmp_path: Path) -> None:
    build = "a" * 40
    runs = tmp_path / "runs"
    registered = {"status": "registered", "version": {"ref": "driver_ranking:7"}}
    _write_run(runs, "wrong", {**registered, "git_sha": "b" * 40})
    out = tmp_path / "out"
    wrong = _run("build_version.py", str(runs), "--expect-git", build, cwd=tmp_path, output=out)
    assert wrong.returncode == 1
    assert f"records git SHA {'b' * 40}, not the build commit {build}" in wrong.stderr
    unknown_runs = tmp_path / "unknown"
    _write_run(unknown_runs, "u", {**registered, "git_sha": "unknown"})
    unknown = _run(
        "build_version.py", str(unknown_runs), "--expect-git", build, cwd=tmp_path, output=out
    )
    assert unknown.returncode == 1
    assert "records git SHA unknown" in unknown.stderr
    good_runs = tmp_path / "good"
    _write_run(good_runs, "g", {**registered, "git_sha": build})
    out = tmp_path / "good-out"
    good = _run("build_version.py", str(good_runs), "--expect-git", build, cwd=tmp_path, output=out)
    assert good.returncode == 0, good.stderr
    assert _outputs(out)["git-sha"] == build


def test_build_version_empty_when_nothing_registered(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _write_run(runs, "r1", {"status": "blocked"})
    out = tmp_path / "out"
    done = _run("build_version.py", str(runs), cwd=tmp_path, output=out)
    assert done.returncode == 0, done.stderr
    assert _outputs(out)["version"] == ""


def test_build_version_needs_exactly_one_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    out = tmp_path / "out"
    none = _run("build_version.py", str(runs), cwd=tmp_path, output=out)
    assert none.returncode == 1
    assert "expected one run.json" in none.stderr
    _write_run(runs, "a", {"status": "registered"})
    _write_run(runs, "b", {"status": "registered"})
    two = _run("build_version.py", str(runs), cwd=tmp_path, output=out)
    assert two.returncode == 1


# -- model-build.yml: the changed models (its matrix) and the version of each build ------------


@pytest.fixture
def models_repo(tmp_path: Path) -> Path:
    """Two model folders (b with its own code), the build code, the feature repo, a README."""
    root = tmp_path / "models-repo"
    files = {
        "model_build/models/a/model.yaml": "model: {name: a}\n",
        "model_build/models/b/model.yaml": "model: {name: b}\n",
        "model_build/models/b/my_models/fare.py": "def train(): ...\n",
        "model_build/models/NOTES.md": "notes\n",
        "model_build/models/not_a_model/README.md": "no model.yaml here\n",
        "model_build/pipeline/train.py": "# build code\n",
        "feature_repo/features.py": "# features\n",
        "model_deploy/environments/dev/a.yaml": "model: null\n",
        "README.md": "hi\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    return root


def _models(repo: Path, tmp_path: Path, *args: str) -> dict[str, str]:
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
    done = _run("changed_models.py", *args, cwd=repo, output=out)
    assert done.returncode == 0, done.stderr
    return _outputs(out)


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["model_build/models/a/model.yaml"], ["a"]),
        (["model_build/models/b/my_models/fare.py"], ["b"]),  # the model's own code
        (["model_build/models/b/model.yaml", "model_build/models/a/model.yaml"], ["a", "b"]),
        (["model_build/pipeline/train.py"], ["a", "b"]),  # the build code every model shares
        (["feature_repo/features.py"], ["a", "b"]),  # the features every model reads
        (["model_build/models/NOTES.md", "model_build/models/not_a_model/README.md"], []),
        (["README.md", "model_deploy/environments/dev/a.yaml"], []),  # not the build's
    ],
)
def test_changed_models_selects_the_folders_a_change_touches(
    models_repo: Path, tmp_path: Path, paths: list[str], expected: list[str]
) -> None:
    base, head = _change(models_repo, *paths)
    outputs = _models(models_repo, tmp_path, "--base", base, "--head", head)
    assert json.loads(outputs["models"]) == expected
    assert outputs["any"] == ("true" if expected else "false")
    assert outputs["model-args"] == " ".join(f"--model {name}" for name in expected)


def test_changed_models_uses_the_merge_base(models_repo: Path, tmp_path: Path) -> None:
    """A pull request builds what it changes, not what main gained since it branched."""
    _git(models_repo, "checkout", "-qb", "feature")
    _change(models_repo, "model_build/models/a/model.yaml")
    head = _git(models_repo, "rev-parse", "HEAD")
    _git(models_repo, "checkout", "-q", "main")
    _change(models_repo, "model_build/models/b/model.yaml")
    main_tip = _git(models_repo, "rev-parse", "HEAD")
    _git(models_repo, "checkout", "-q", "feature")
    outputs = _models(models_repo, tmp_path, "--base", main_tip, "--head", head)
    assert json.loads(outputs["models"]) == ["a"]


def test_changed_models_unknown_base_or_dispatch_selects_every_model(
    models_repo: Path, tmp_path: Path
) -> None:
    for base in ("", "0" * 40, "f" * 40):  # workflow_dispatch, a new branch, a shallow clone
        outputs = _models(models_repo, tmp_path, "--base", base)
        assert json.loads(outputs["models"]) == ["a", "b"], base
        assert outputs["model-args"] == "--model a --model b"


def test_changed_models_only_one_and_deleted_folders(models_repo: Path, tmp_path: Path) -> None:
    assert json.loads(_models(models_repo, tmp_path, "--only", "b")["models"]) == ["b"]
    missing = _run("changed_models.py", "--only", "nope", cwd=models_repo, output=tmp_path / "x")
    assert missing.returncode == 1
    assert "no model folder model_build/models/nope/model.yaml (a, b)" in missing.stderr
    base = _git(models_repo, "rev-parse", "HEAD")
    _git(models_repo, "rm", "-rq", "model_build/models/b")
    _git(models_repo, "commit", "-qm", "drop b")
    outputs = _models(models_repo, tmp_path, "--base", base, "--head", "HEAD")
    assert outputs["any"] == "false"  # a deleted model is not built


def _report(tmp_path: Path, builds: list[dict[str, object]]) -> Path:
    path = tmp_path / "build.json"
    failed = [b["model"] for b in builds if b["status"] != "registered"]
    path.write_text(json.dumps({"builds": builds, "failed": failed}))
    return path


def test_build_version_reads_the_json_report_of_one_build(tmp_path: Path) -> None:
    """`slipway build run --model M --format json`: the version, and the run's git SHA."""
    build = "c" * 40
    _write_run(
        tmp_path / "runs", "r1",
        {"model_name": "trip_fare", "status": "registered", "git_sha": build,
         "version": {"model_name": "trip_fare", "version": 3, "ref": "trip_fare:3"}},
    )  # fmt: skip
    run_dir = str(tmp_path / "runs" / "r1")
    report = _report(
        tmp_path,
        [{"model": "trip_fare", "status": "registered", "version": "trip_fare:3",
          "run_id": "r1", "run_dir": run_dir}],
    )  # fmt: skip
    out = tmp_path / "out"
    done = _run("build_version.py", str(report), "--expect-git", build, cwd=tmp_path, output=out)
    assert done.returncode == 0, done.stderr
    assert _outputs(out) == {
        "model": "trip_fare",
        "version": "trip_fare:3",
        "run-id": "r1",
        "status": "registered",
        "git-sha": build,
    }
    other = "d" * 40
    wrong = _run("build_version.py", str(report), "--expect-git", other, cwd=tmp_path, output=out)
    assert wrong.returncode == 1
    assert f"trip_fare:3 records git SHA {build}, not the build commit" in wrong.stderr


def test_build_version_report_failures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    failed = _report(tmp_path, [{"model": "m", "status": "failed", "error": "label"}])
    done = _run("build_version.py", str(failed), "--expect-git", "a" * 40, cwd=tmp_path, output=out)
    assert done.returncode == 0, done.stderr  # nothing registered: nothing to promote
    assert (_outputs(out)["version"], _outputs(out)["status"]) == ("", "failed")
    two = _report(
        tmp_path,
        [{"model": "a", "status": "failed"}, {"model": "b", "status": "failed"}],
    )
    several = _run("build_version.py", str(two), cwd=tmp_path, output=out)
    assert several.returncode == 1
    assert "expected one build" in several.stderr
    assert "found a, b" in several.stderr
    (tmp_path / "bad.json").write_text("{not json")
    bad = _run("build_version.py", str(tmp_path / "bad.json"), cwd=tmp_path, output=out)
    assert bad.returncode == 1
    assert "is not a `slipway build run --format json` report" in bad.stderr


def test_model_build_workflow_builds_every_changed_model() -> None:
    """The matrix is the changed models; each job builds its model and reads its report."""
    import yaml

    document = yaml.safe_load((ROOT / ".github" / "workflows" / "model-build.yml").read_text())
    jobs = document["jobs"]
    changes = " ".join(step.get("run", "") for step in jobs["changes"]["steps"])
    assert ".github/scripts/changed_models.py" in changes
    build = jobs["build"]
    assert "changes" in build["needs"]
    assert build["strategy"]["matrix"]["model"] == "${{ fromJSON(needs.changes.outputs.models) }}"
    assert build["strategy"]["fail-fast"] is False  # one model's failure never stops another
    runs = [step.get("run", "") for step in build["steps"]]
    (build_run,) = [run for run in runs if "slipway build run --model" in run]
    assert "--format json" in build_run
    assert "$RUNNER_TEMP/build.json" in build_run
    assert any('build_version.py "$RUNNER_TEMP/build.json"' in run for run in runs)
    assert any('--sagemaker --model "$MODEL"' in run for run in runs)
    promote = " ".join(step.get("run", "") for step in jobs["promote"]["steps"])
    assert 'for version in "${versions[@]}"' in promote


def test_comment_features_posts_one_sticky_comment(
    tmp_path: Path,
    github_api: RunningServer,  # noqa: F811 - the fixture imported above
) -> None:
    state = github_api.state
    with state.lock:
        repo = state.add_repo("acme/slipway", files={"feature_repo/definitions.py": "a = 1\n"})
        repo.refs["features"] = repo.refs["main"]
        repo.commit_file("features", "feature_repo/definitions.py", b"a = 2\n", "change")
    created = httpx.post(
        f"{github_api.url}/repos/acme/slipway/pulls",
        headers={"Authorization": f"token {github_api.token}"},
        json={"title": "Features", "head": "features", "base": "main"},
        timeout=10,
    )
    created.raise_for_status()
    number = created.json()["number"]
    plan = tmp_path / "plan.txt"
    plan.write_text("\x1b[1mFeature views\x1b[0m\n  + driver_hourly_stats (new)\n")
    summary = tmp_path / "summary.md"
    env = {
        "PATH": "/usr/bin:/bin",
        "SLIPWAY_FORGE": "github",
        "SLIPWAY_GITHUB_TOKEN": github_api.token,
        "SLIPWAY_GITHUB_REPOSITORY": "acme/slipway",
        "SLIPWAY_GITHUB_API_URL": github_api.url,
        "SLIPWAY_GITHUB_SECONDS_BETWEEN_WRITES": "0",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    args = [
        sys.executable,
        str(SCRIPTS / "comment_features.py"),
        "--pr",
        str(number),
        "--plan-file",
        str(plan),
        "--gx-report-dir",
        str(tmp_path / "missing"),
        "--validate-outcome",
        "failure",
    ]
    for _ in range(2):
        done = subprocess.run(
            args, capture_output=True, text=True, check=False, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
    comments = [c for c in repo.comments.values() if c["issue"] == number]
    assert len(comments) == 1
    body = comments[0]["body"]
    assert body.startswith("<!-- slipway:features-plan -->")
    assert "+ driver_hourly_stats (new)" in body
    assert "\x1b[" not in body
    assert "❌ data gate: **failure**" in body
    assert "no such validation report folder" in body
    assert "driver_hourly_stats" in summary.read_text()
    edits = state.calls_to("PATCH", r"/issues/comments/")
    assert edits == [], "an unchanged comment was edited"
