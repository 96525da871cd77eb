"""`slipway models ...` on a local registry, through Typer's test runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from model_build.errors import BuildError, InvalidTransitionError, VersionNotFoundError
from model_build.registry import ApprovalStatus, LocalRegistry, NewVersion
from slipway.cli.models import models_app

runner = CliRunner()


@pytest.fixture
def root(tmp_path: Path, bundle: tuple[Path, str], new_version: Callable[..., NewVersion]) -> Path:
    registry = LocalRegistry(tmp_path / "registry")
    registry.register(
        new=new_version(metrics={"roc_auc": 0.80, "log_loss": 0.40, "ece": 0.05}, run_id="r1"),
        bundle_dir=bundle[0],
    )
    registry.register(
        new=new_version(
            metrics={"roc_auc": 0.85, "log_loss": 0.45, "ece": 0.02},
            run_id="r2",
            params={"C": 2.0},
        ),
        bundle_dir=bundle[0],
    )
    registry.register(new=new_version(model_name="churn"), bundle_dir=bundle[0])
    return tmp_path / "registry"


def _run(root: Path, *args: str) -> Result:
    return runner.invoke(models_app, [*args, "--registry-path", str(root)], env={"COLUMNS": "200"})


def test_every_command_and_option_explains_itself() -> None:
    group = typer.main.get_command(models_app)
    assert group.help
    commands = getattr(group, "commands", {})
    assert set(commands) == {"list", "show", "approve", "reject", "compare"}
    for name, command in commands.items():
        assert command.help, name
        for param in command.params:
            assert getattr(param, "help", None), f"{name} {param.name}"
        result = runner.invoke(models_app, [name, "--help"])
        assert result.exit_code == 0, result.output


def test_list_shows_versions_and_filters(root: Path) -> None:
    result = _run(root, "list", "driver_ranking")
    assert result.exit_code == 0, result.output
    assert "driver_ranking:1" in result.output
    assert "driver_ranking:2" in result.output
    assert "Pending" in result.output
    everything = json.loads(_run(root, "list", "--format", "json").output)
    assert [v["model_name"] + ":" + str(v["version"]) for v in everything] == [
        "churn:1",
        "driver_ranking:1",
        "driver_ranking:2",
    ]
    assert "no versions with status Approved" in _run(root, "list", "--status", "approved").output


def test_approve_changes_the_status(root: Path) -> None:
    result = _run(root, "approve", "driver_ranking:2", "--reason", "better AUC")
    assert result.exit_code == 0, result.output
    assert "driver_ranking:2: Pending -> Approved" in result.output
    version = LocalRegistry(root).get(model_name="driver_ranking", version=2)
    assert (version.status, version.status_reason) == (ApprovalStatus.APPROVED, "better AUC")
    assert "already" in _run(root, "approve", "driver_ranking", "2").output
    listed = json.loads(_run(root, "list", "--status", "approved", "--format", "json").output)
    assert [v["version"] for v in listed] == [2]


def test_reject_needs_a_reason_and_approving_it_again_needs_force(root: Path) -> None:
    missing = _run(root, "reject", "driver_ranking:1")
    assert missing.exit_code == 2
    assert "--reason" in missing.output
    assert _run(root, "reject", "driver_ranking:1", "--reason", "leaks labels").exit_code == 0
    refused = _run(root, "approve", "driver_ranking:1")
    assert isinstance(refused.exception, InvalidTransitionError)
    forced = _run(root, "approve", "driver_ranking:1", "--force", "--reason", "false alarm")
    assert forced.exit_code == 0, forced.output
    shown = json.loads(_run(root, "show", "driver_ranking:1", "--format", "json").output)
    assert shown["status"] == "Approved"
    assert [(h["status"], h["forced"]) for h in shown["status_history"]] == [
        ("Pending", False),
        ("Rejected", False),
        ("Approved", True),
    ]


def test_show_accepts_both_reference_forms(root: Path) -> None:
    text = _run(root, "show", "driver_ranking", "2")
    assert text.exit_code == 0, text.output
    assert "driver_ranking_v1" in text.output
    assert "roc_auc" in text.output
    as_json = json.loads(_run(root, "show", "driver_ranking:2", "--format", "json").output)
    assert as_json["params"] == {"C": 2.0}
    assert _run(root, "show", "driver_ranking").exit_code == 2
    assert _run(root, "show", "driver_ranking:two").exit_code == 2
    assert _run(root, "show", "driver_ranking:1", "2").exit_code == 2


def test_compare_prints_deltas_with_direction(root: Path) -> None:
    result = _run(root, "compare", "driver_ranking:1", "driver_ranking:2")
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if "│" in line[:3]}
    assert "+0.05" in lines["roc_auc"]
    assert "better" in lines["roc_auc"]
    assert "+0.05" in lines["log_loss"]
    assert "worse" in lines["log_loss"]
    assert "-0.03" in lines["ece"]
    assert "better" in lines["ece"]
    assert "params" in result.output
    doc = json.loads(
        _run(root, "compare", "driver_ranking:1", "driver_ranking:2", "--format", "json").output
    )
    verdicts = {m["name"]: m["verdict"] for m in doc["metrics"]}
    assert verdicts == {"roc_auc": "better", "log_loss": "worse", "ece": "better"}
    assert doc["lineage_changes"]["params"] == {"a": {"C": 1.0}, "b": {"C": 2.0}}


def test_registry_errors_are_build_errors(root: Path) -> None:
    result = _run(root, "show", "driver_ranking:9")
    assert isinstance(result.exception, VersionNotFoundError)
    assert isinstance(result.exception, BuildError)
    assert "driver_ranking:9" in str(result.exception)


def test_user_text_is_printed_literally(root: Path) -> None:
    _run(root, "reject", "driver_ranking:1", "--reason", "see [red]ticket[/red] 42")
    shown = _run(root, "show", "driver_ranking:1")
    assert "see [red]ticket[/red] 42" in shown.output


def test_status_changes_and_empty_lists_have_json_too(root: Path) -> None:
    approved = _run(root, "approve", "driver_ranking:1", "--format", "json")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["status"] == "Approved"
    rejected = _run(root, "reject", "churn:1", "--reason", "stale", "-f", "json")
    assert (json.loads(rejected.output)["status_reason"]) == "stale"
    assert json.loads(_run(root, "list", "nobody", "--format", "json").output) == []


def _module_level_imports(path: Path) -> set[str]:
    """Top-level packages a module imports when it is loaded (not under TYPE_CHECKING)."""
    import ast

    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("name", ["models", "build", "build_serving"])
def test_command_modules_import_only_typer_and_the_standard_library(name: str) -> None:
    import sys

    path = Path(__file__).resolve().parents[4] / "slipway" / "cli" / f"{name}.py"
    # typer + stdlib only, and the CLI's own light modules (themselves stdlib-only at load)
    allowed_cli = {
        "slipway.cli.output",
        "slipway.cli.feature_options",
        "slipway.cli.params",
        "slipway.cli.build_serving",
    }
    for module in _module_level_imports(path):
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or top == "typer" or module in allowed_cli, module


def test_models_list_loads_no_heavy_library(tmp_path: Path) -> None:
    """What ``models list`` imports beyond the CLI itself: no pandas, sklearn, boto3, YAML."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from slipway.cli.models import models_app\n"
        "before = set(sys.modules)\n"
        f"done = CliRunner().invoke(models_app, ['list', '--registry-path', {str(tmp_path)!r}])\n"
        "assert done.exit_code == 0, done.output\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = done.stdout.split()
    assert "model_build.registry.local" in loaded  # the command did its work
    heavy = ("pandas", "numpy", "sklearn", "boto3", "botocore", "yaml", "sagemaker", "feast")
    assert [m for m in loaded if m.split(".")[0] in heavy or m.startswith("model_build.pipe")] == []
