"""``slipway build``: which model folders it builds by default, and warnings kept whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model_build.definition.catalog import MODELS_DIR
from model_build.pipeline.steps.gate import NoServingModel
from slipway.cli.build import build_app
from slipway.cli.build_serving import say_serving, say_warning


def _project(root: Path, *names: str) -> Path:
    """A project whose ``model_build/models`` holds copies of bundled model folders."""
    for name in names:
        shutil.copytree(MODELS_DIR / name, root / "model_build" / "models" / name)
    return root


def test_build_uses_the_current_project_s_models_not_the_bundled_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --models-dir: ./model_build/models (one model here; Slipway bundles two)."""
    monkeypatch.delenv("SLIPWAY_MODELS_DIR", raising=False)
    monkeypatch.chdir(_project(tmp_path / "acme", "trip_fare"))
    out = tmp_path / "definition.json"
    done = CliRunner().invoke(build_app, ["compile", "--out", str(out)])
    assert done.exit_code == 0, done.output  # the bundled folder would say "several models"
    assert "for trip_fare" in " ".join(done.output.split())
    assert out.is_file()


def test_build_models_dir_setting_and_no_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "acme", "driver_ranking")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLIPWAY_MODELS_DIR", str(project / "model_build" / "models"))
    done = CliRunner().invoke(build_app, ["compile", "--out", str(tmp_path / "d.json")])
    assert done.exit_code == 0, done.output
    assert "for driver_ranking" in " ".join(done.output.split())
    monkeypatch.delenv("SLIPWAY_MODELS_DIR")
    for command in (["compile"], ["run", "--no-track"]):
        refused = CliRunner().invoke(build_app, command)
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.output.split())
        assert "no folder model_build/models in" in said
        assert "Slipway project" in said


def test_help_documents_the_default_models_folder() -> None:
    shown = CliRunner().invoke(build_app, ["run", "--help"], env={"COLUMNS": "300"})
    said = " ".join(shown.output.split())
    assert "$SLIPWAY_MODELS_DIR, else ./model_build/models of the project" in said


LONG = "/tmp/pytest-of-someone/pytest-123/test_cli_warns_when_there_is_nothing_to_compare_with0"


@pytest.mark.parametrize("say", ["warning", "serving"])
def test_warnings_never_wrap_a_path(
    say: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A narrow terminal: the line is one line, so the path in it stays whole."""
    monkeypatch.setenv("COLUMNS", "40")
    reason = f"{LONG}/absent/prod.yaml not found: no prod version to compare with"
    if say == "warning":
        say_warning(reason)
    else:
        say_serving(NoServingModel(reason=reason, warning=True))
    err = capsys.readouterr().err
    assert err.splitlines() == [f"warning: {reason}"]
