"""The ``slipway deploy`` command group: help everywhere, formats, one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from deploy_support import local_manifest, write_manifest
from typer.testing import CliRunner

from model_deploy.errors import ManifestError
from slipway.cli.deploy import deploy_app, main

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLIPWAY_DEPLOY_MANIFESTS_DIR", str(tmp_path / "manifests"))
    monkeypatch.setenv("SLIPWAY_DEPLOY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SLIPWAY_REGISTRY_PATH", str(tmp_path / "registry"))
    monkeypatch.setenv("SLIPWAY_GIT_SHA", "cafe")
    write_manifest(tmp_path / "manifests", "dev", local_manifest("dev", version=None, port=9101))
    return tmp_path


def test_help_on_the_group_and_every_command() -> None:
    result = runner.invoke(deploy_app, ["--help"])
    assert result.exit_code == 0
    assert "Plan and apply environment manifests (dev, staging, prod)." in result.output
    for command in ("plan", "apply", "status", "rollback"):
        assert command in result.output
        help_text = runner.invoke(deploy_app, [command, "--help"])
        assert help_text.exit_code == 0, help_text.output
        assert len(help_text.output.splitlines()) > 5


def test_plan_formats_and_detailed_exit_code(workdir: Path) -> None:
    text = runner.invoke(deploy_app, ["plan", "dev"])
    assert text.exit_code == 0
    assert "dev is in sync" in text.output
    data = json.loads(runner.invoke(deploy_app, ["plan", "dev", "--format", "json"]).output)
    assert data["action"] == "noop"
    assert data["in_sync"] is True
    out = workdir / "plan.md"
    result = runner.invoke(deploy_app, ["plan", "dev", "-f", "markdown", "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text().startswith("<!-- slipway:plan env=dev -->")
    assert runner.invoke(deploy_app, ["plan", "dev", "--detailed-exitcode"]).exit_code == 0


def test_apply_status_rollback(workdir: Path) -> None:
    applied = runner.invoke(deploy_app, ["apply", "dev"])
    assert applied.exit_code == 0
    assert "in sync" in applied.output
    status = runner.invoke(deploy_app, ["status", "--format", "json"])
    assert json.loads(status.output)[0]["env"] == "dev"
    assert "dev: in sync" in runner.invoke(deploy_app, ["status"]).output
    rollback = runner.invoke(deploy_app, ["rollback", "dev"])
    assert rollback.exit_code == 1
    assert "no earlier successful deployment" in str(rollback.exception)


def test_errors_are_deploy_errors_and_main_prints_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = runner.invoke(deploy_app, ["plan", "qa"])
    assert isinstance(result.exception, ManifestError)
    monkeypatch.setattr(sys, "argv", ["slipway deploy", "plan", "qa"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "no manifest for 'qa' (known: dev)" in err
    assert len(err.strip().splitlines()) == 1
