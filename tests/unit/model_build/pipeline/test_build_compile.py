"""SageMaker pipeline definition: offline, complete, driven by model.yaml, byte-stable (golden).

Regenerate the golden file after an intended change with::

    SLIPWAY_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/model_build/pipeline -k golden
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from build_kits import driver_ranking, toy_definition
from typer.testing import CliRunner

from model_build.definition.loader import parse_definition
from model_build.definition.schema import ModelDefinition
from model_build.sagemaker.compile import (
    STEP_NAMES,
    code_files,
    compile_pipeline,
    definition_json,
)
from slipway.cli.build import build_app

GOLDEN = Path(__file__).parent / "golden" / "pipeline_definition.json"
TARGET = {
    "bucket": "slipway-artifacts",
    "role_arn": "arn:aws:iam::123456789012:role/slipway-sagemaker",
    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway:0.1.0",
    "region": "us-east-1",
}
AWS_VARS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
)  # fmt: skip


def _go_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """No AWS credentials anywhere, and any socket connection fails loudly."""
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"network disabled in this test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    return _go_offline(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Any]]:
    """The default definition, compiled once with no credentials and no network."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("SAGEMAKER_VALIDATE_ROLE", raising=False)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        attempts = _go_offline(monkeypatch, tmp_path_factory.mktemp("offline"))
        definition = _compile()
        # The environment is restored afterwards.
        assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    return definition, attempts


def _compile(model: ModelDefinition | None = None) -> dict[str, Any]:
    return compile_pipeline(model=model or driver_ranking(), **TARGET)


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    stack = list(definition["Steps"])
    while stack:
        step = stack.pop()
        found[step["Name"]] = step
        stack.extend(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
    return found


def _conditions(definition: dict[str, Any]) -> dict[str, Any]:
    check = _steps(definition)["CheckGate"]["Arguments"]["Conditions"]
    return {c["LeftValue"]["Std:JsonGet"]["Path"]: (c["Type"], c["RightValue"]) for c in check}


def test_compiles_offline_without_credentials(compiled: tuple[dict[str, Any], list[Any]]) -> None:
    definition, attempts = compiled
    assert attempts == []  # not a single connection attempt
    steps = _steps(definition)
    assert set(steps) == set(STEP_NAMES)
    assert {name: step["Type"] for name, step in steps.items()} == {
        "PrepareData": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "CheckGate": "Condition",
        "RegisterModel": "RegisterModel",
        "GateFailed": "Fail",
    }


def test_output_is_byte_identical_and_matches_golden(
    compiled: tuple[dict[str, Any], list[Any]], offline: list[Any]
) -> None:
    first, second = definition_json(compiled[0]), definition_json(_compile())
    assert first == second
    if os.environ.get("SLIPWAY_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(first)
    assert GOLDEN.is_file(), "golden file missing; run with SLIPWAY_UPDATE_GOLDEN=1"
    assert first == GOLDEN.read_text(), (
        "the pipeline definition changed; if intended, regenerate the golden file "
        "(SLIPWAY_UPDATE_GOLDEN=1)"
    )


def test_condition_thresholds_come_from_the_definition(
    compiled: tuple[dict[str, Any], list[Any]], offline: list[Any]
) -> None:
    params = driver_ranking()
    conditions = _conditions(compiled[0])
    assert conditions == {
        "metrics.roc_auc": ("GreaterThanOrEqualTo", params.gate.thresholds["roc_auc"]),
        "metrics.log_loss": ("LessThanOrEqualTo", params.gate.thresholds["log_loss"]),
        "gate.serving_passed": ("Equals", True),
    }

    thresholds = {"roc_auc": 0.81, "log_loss": 0.6, "ece": 0.05}
    stricter = params.model_copy(
        update={"gate": params.gate.model_copy(update={"thresholds": thresholds})}
    )
    changed = _compile(stricter)
    assert _conditions(changed)["metrics.roc_auc"] == ("GreaterThanOrEqualTo", 0.81)
    assert _conditions(changed)["metrics.ece"] == ("LessThanOrEqualTo", 0.05)
    assert definition_json(changed) != GOLDEN.read_text()


def test_regression_conditions_follow_the_metric_directions(
    offline: list[Any], tmp_path: Path
) -> None:
    """A regression model gates on rmse <= and r2 >=, and its package records the task."""
    model = toy_definition(tmp_path, "regression")
    gate = model.gate.model_copy(update={"thresholds": {"rmse": 4.0, "r2": 0.5}})
    definition = _compile(model.model_copy(update={"gate": gate}))
    assert _conditions(definition) == {
        "metrics.rmse": ("LessThanOrEqualTo", 4.0),
        "metrics.r2": ("GreaterThanOrEqualTo", 0.5),
        "gate.serving_passed": ("Equals", True),
    }
    register = _steps(definition)["RegisterModel"]["Arguments"]
    assert register["ModelPackageGroupName"] == "toy-regression"
    assert register["CustomerMetadataProperties"]["slipway.task"] == "regression"


def test_steps_run_the_uploaded_scripts(compiled: tuple[dict[str, Any], list[Any]]) -> None:
    params = driver_ranking()
    steps = _steps(compiled[0])
    code = f"s3://{TARGET['bucket']}/{params.sagemaker.prefix}/code"
    for name, script in (("PrepareData", "prepare.py"), ("Evaluate", "evaluate.py")):
        app = steps[name]["Arguments"]["AppSpecification"]
        assert app["ContainerEntrypoint"] == ["python3", f"/opt/ml/processing/input/code/{script}"]
        inputs = {
            i["InputName"]: i["S3Input"]["S3Uri"]
            for i in steps[name]["Arguments"]["ProcessingInputs"]
        }
        assert inputs["code"] == f"{code}/{script}"
        assert inputs["definition"] == f"{code}/model.yaml"
    train = steps["Train"]["Arguments"]
    assert train["AlgorithmSpecification"]["ContainerEntrypoint"] == [
        "python3", "/opt/ml/input/data/code/train.py",
    ]  # fmt: skip
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]
    }
    assert channels["code"] == f"{code}/"
    evaluate = steps["Evaluate"]
    (report,) = evaluate["PropertyFiles"]
    assert report["FilePath"] == "evaluation.json"
    assert report["OutputName"] == "evaluation"
    assert report["PropertyFileName"] == "EvaluationReport"
    register = steps["RegisterModel"]["Arguments"]
    assert register["ModelPackageGroupName"] == "driver-ranking"
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    metadata = register["CustomerMetadataProperties"]
    assert metadata["slipway.model_name"] == "driver_ranking"
    assert metadata["slipway.task"] == "binary"
    assert metadata["slipway.feature_service"] == "driver_ranking_v1"
    assert set(metadata) >= {"slipway.artifact_digest", "slipway.data_hash", "slipway.git_sha"}
    assert (
        register["ModelMetrics"]["ModelQuality"]["Statistics"]["ContentType"] == "application/json"
    )
    message = steps["GateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert message[1]["Std:JsonGet"]["Path"] == "gate.summary"


def test_code_files_hold_scripts_and_the_definition(tmp_path: Path) -> None:
    params = driver_ranking()
    files = code_files(params)
    assert sorted(files) == ["evaluate.py", "model.yaml", "prepare.py", "train.py"]
    for script in ("prepare.py", "train.py", "evaluate.py"):
        text = files[script].decode()
        assert "from model_build.sagemaker.jobs import main" in text
    again = parse_definition(text=files["model.yaml"].decode(), source="code")
    assert again.lineage() == params.lineage()
    assert yaml.safe_load(files["model.yaml"])["gate"]["thresholds"]["roc_auc"] == 0.75
    # An entry point's code travels with it (the Train job imports it from the code channel).
    custom = toy_definition(tmp_path, "regression", estimator=None, entrypoint="mine.fit:train")
    (tmp_path / "toy_regression" / "mine").mkdir()
    (tmp_path / "toy_regression" / "mine" / "fit.py").write_text("def train(**kw): ...\n")
    assert "mine/fit.py" in code_files(custom)


def test_cli_compile_writes_the_golden_definition(offline: list[Any], tmp_path: Path) -> None:
    out = tmp_path / "definition.json"
    args = ["compile", "--model", "driver_ranking", "--out", str(out), "--bucket", TARGET["bucket"]]
    args += ["--role-arn", TARGET["role_arn"], "--image-uri", TARGET["image_uri"]]
    args += ["--region", TARGET["region"]]
    result = CliRunner().invoke(build_app, args)
    assert result.exit_code == 0, result.output
    assert out.read_text() == GOLDEN.read_text()
    said = " ".join(result.output.split())
    assert "PrepareData, Train, Evaluate, CheckGate, RegisterModel, GateFailed" in said
    assert json.loads(out.read_text())["Version"] == "2020-12-01"


def test_every_cli_option_has_help() -> None:
    import typer.main

    command = typer.main.get_command(build_app)
    assert command.help == "Build, evaluate and register models."
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        assert sub.help, name
        for param in sub.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"{name} --{param.name} has no help text"
    assert set(command.commands) == {"run", "compile"}  # type: ignore[attr-defined]


def test_help_shows_the_defaults_it_names() -> None:
    """``[default: ...]`` in a help text is not swallowed as rich markup."""
    from typer.testing import CliRunner

    shown = CliRunner().invoke(build_app, ["run", "--help"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    assert "[default: every model folder]" in said
    assert "[default: $SLIPWAY_MODELS_DIR, else ./model_build/models of the project" in said
    assert "[default: $SLIPWAY_S3_BUCKET]" in said
    assert "[env: SLIPWAY_SAGEMAKER_ROLE_ARN]" in said
