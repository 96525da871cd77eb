"""The ``slipway deploy`` command group: help everywhere, formats, one-line errors, lazy imports."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest
from deploy_support import local_manifest, write_manifest
from typer.testing import CliRunner

from model_deploy.errors import ManifestError
from slipway.cli import deploy as deploy_module
from slipway.cli.app import run
from slipway.cli.deploy import deploy_app

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLIPWAY_DEPLOY_MANIFESTS_DIR", str(tmp_path / "manifests"))
    monkeypatch.setenv("SLIPWAY_DEPLOY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SLIPWAY_REGISTRY_PATH", str(tmp_path / "registry"))
    monkeypatch.setenv("SLIPWAY_GIT_SHA", "cafe")
    monkeypatch.delenv("SLIPWAY_REGISTRY", raising=False)
    write_manifest(tmp_path / "manifests", "dev", local_manifest("dev", version=None, port=9101))
    return tmp_path


def test_a_bad_registry_setting_is_one_line_naming_the_variable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(workdir / "manifests", "dev", local_manifest("dev", version=1, port=9101))
    monkeypatch.setenv("SLIPWAY_REGISTRY", "mongodb")
    assert run(["deploy", "plan", "dev"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ")
    assert "SLIPWAY_REGISTRY" in err
    assert "mongodb" not in err  # a value may be a secret: never echoed


def test_a_bad_deploy_setting_is_one_line_naming_the_variable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLIPWAY_DEPLOY_HEALTH_TIMEOUT", "-3")
    assert run(["deploy", "status"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "SLIPWAY_DEPLOY_HEALTH_TIMEOUT" in err


def test_help_on_the_group_and_every_command() -> None:
    result = runner.invoke(deploy_app, ["--help"])
    assert result.exit_code == 0
    assert "Plan and apply environment manifests (dev, staging, prod), one per" in result.output
    for command in ("plan", "apply", "status", "rollback"):
        assert command in result.output
        help_text = runner.invoke(deploy_app, [command, "--help"])
        assert help_text.exit_code == 0, help_text.output
        assert len(help_text.output.splitlines()) > 5


def test_plan_formats_and_detailed_exit_code(workdir: Path) -> None:
    text = runner.invoke(deploy_app, ["plan", "dev"])
    assert text.exit_code == 0
    assert "dev/driver_ranking is in sync" in text.output
    data = json.loads(runner.invoke(deploy_app, ["plan", "dev", "--format", "json"]).output)
    assert data["action"] == "noop"
    assert data["in_sync"] is True
    assert data["warnings"] == []
    out = workdir / "plan.md"
    result = runner.invoke(deploy_app, ["plan", "dev", "-f", "markdown", "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text().startswith("<!-- slipway:plan env=dev/driver_ranking -->")
    assert runner.invoke(deploy_app, ["plan", "dev", "--detailed-exitcode"]).exit_code == 0
    write_manifest(workdir / "manifests", "dev", local_manifest("dev", version=1, port=9101))
    blocked = runner.invoke(deploy_app, ["plan", "dev", "--detailed-exitcode"])
    assert blocked.exit_code == 3  # version 1 is in no registry: the registry check fails


def test_apply_status_rollback(workdir: Path) -> None:
    applied = runner.invoke(deploy_app, ["apply", "dev"])
    assert applied.exit_code == 0
    assert "in sync" in applied.output
    as_json = json.loads(runner.invoke(deploy_app, ["apply", "dev", "-f", "json"]).output)
    assert (as_json["outcome"], as_json["exit_code"], as_json["cause"]) == ("no-op", 0, None)
    status = runner.invoke(deploy_app, ["status", "--format", "json"])
    (dev,) = json.loads(status.output)
    assert (dev["env"], dev["in_sync"], dev["warnings"]) == ("dev/driver_ranking", True, [])
    assert (dev["environment"], dev["model"]) == ("dev", "driver_ranking")
    assert "dev/driver_ranking: in sync" in runner.invoke(deploy_app, ["status"]).output
    rollback = runner.invoke(deploy_app, ["rollback", "dev"])
    assert rollback.exit_code == 1
    assert "no earlier successful deployment" in str(rollback.exception)
    markdown = runner.invoke(deploy_app, ["status", "--format", "markdown"])
    assert markdown.exit_code == 2  # plan is the only command with a markdown rendering


def test_errors_are_deploy_errors_and_print_as_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = runner.invoke(deploy_app, ["plan", "qa"])
    assert isinstance(result.exception, ManifestError)
    assert run(["deploy", "plan", "qa"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "'qa' is not an environment (declared: dev, staging, prod)" in err
    assert len(err.strip().splitlines()) == 1


def test_the_command_module_imports_only_typer_and_the_standard_library() -> None:
    source = Path(deploy_module.__file__ or "").read_text(encoding="utf-8")
    top: list[str] = []
    for node in ast.parse(source).body:  # module level only: commands import inside
        if isinstance(node, ast.Import):
            top += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            top.append(node.module or "")
    allowed = {"__future__", "typing", "typer", "slipway.cli.output", "slipway.cli"}
    stdlib = set(sys.stdlib_module_names)
    assert {name for name in top if name.split(".")[0] not in stdlib} <= allowed, top
