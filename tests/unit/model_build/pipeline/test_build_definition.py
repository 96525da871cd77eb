"""model.yaml: strict loading, every error at once, each naming file, field and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from build_kits import DRIVER_RANKING, definition_doc, driver_ranking, write_model

from model_build.definition.catalog import find_models, model_folders
from model_build.definition.loader import DefinitionError, load_definition, parse_definition
from model_build.definition.schema import ModelDefinition
from model_build.errors import BuildError
from model_bundle.task import Task
from slipway.cli.app import run

BAD = """\
model:
  name: toy_binary
  task: binary
  feature_service: toy_v1
data:
  entity_source: trips
  label: label
  id_column: trip_id
  holdout_fraction: 0.9
train:
  seed: -1
  estimator: hist_gradient_boosting
  hyperparameters:
    learnin_rate: 0.1
    max_iter: 0
    max_leaf_nodes: 15
    min_samples_leaf: 10
    l2_regularization: 0.0
evaluate:
  threshold: 0.5
gate:
  thresholds:
    rmse: 1.0
    residual_q50: 0.1
  serving_tolerance:
    roc_auc: -0.1
sagemaker:
  pipeline_name: toy-binary
  prefix: toy/binary
  colour: blue
"""


def test_a_bad_definition_reports_every_error_at_once_with_lines(tmp_path: Path) -> None:
    folder = tmp_path / "toy_binary"
    folder.mkdir()
    (folder / "model.yaml").write_text(BAD)
    with pytest.raises(DefinitionError) as caught:
        load_definition(path=folder)
    where = str(folder / "model.yaml")
    found = {(i.field, i.line) for i in caught.value.issues}
    assert found >= {
        ("data.holdout_fraction", 9),
        ("train.seed", 11),
        ("train.hyperparameters.learnin_rate", 14),
        ("train.hyperparameters.max_iter", 15),
        ("train.hyperparameters.learning_rate", 13),  # required, missing: its section's line
        ("gate.thresholds.rmse", 23),
        ("gate.thresholds.residual_q50", 24),
        ("gate.serving_tolerance", 25),
        ("sagemaker.colour", 30),
    }
    message = str(caught.value)
    assert "\n" not in message
    assert f"{where}:9: field 'data.holdout_fraction': " in message
    assert "metric 'rmse' is not computed for task binary" in message
    assert "unknown field (allowed: " in message
    assert isinstance(caught.value, BuildError)


def test_cli_prints_one_error_line_naming_file_field_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "toy_binary"
    folder.mkdir()
    (folder / "model.yaml").write_text(BAD)
    assert run(["build", "compile", "--model", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "model.yaml:11: field 'train.seed'" in " ".join(err.split())


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"estimator": None}, "train.estimator", "give an estimator"),
        ({"entrypoint": "my_models.fare:train"}, "train.entrypoint", "not both"),
        ({"estimator": "RandomForest"}, "train.estimator", "import path"),
        ({"entrypoint": "no colon", "estimator": None}, "train.entrypoint", "module:function"),
    ],
)
def test_train_needs_exactly_one_estimator_or_entrypoint(
    tmp_path: Path, change: dict[str, object], field: str, reason: str
) -> None:
    doc = definition_doc("binary")
    doc["train"].update(change)
    with pytest.raises(DefinitionError) as caught:
        load_definition(path=write_model(tmp_path, doc))
    assert any(i.field == field and reason in i.message for i in caught.value.issues), str(
        caught.value
    )


def test_task_specific_rules(tmp_path: Path) -> None:
    doc = definition_doc("regression")
    doc["evaluate"]["threshold"] = 0.4
    doc["evaluate"]["metrics"] = ["rmse", "roc_auc"]
    with pytest.raises(DefinitionError) as caught:
        load_definition(path=write_model(tmp_path, doc))
    message = str(caught.value)
    assert "field 'evaluate.threshold': is for binary models only" in message
    assert "field 'evaluate.metrics.1': metric 'roc_auc' is not computed for task regression" in (
        message
    )
    doc = definition_doc("multiclass")
    doc["model"]["task"] = "ranking"
    with pytest.raises(DefinitionError, match=r"field 'model.task': Input should be 'binary'"):
        load_definition(path=write_model(tmp_path / "other", doc))


def test_model_is_named_after_its_folder(tmp_path: Path) -> None:
    doc = definition_doc("binary")
    folder = write_model(tmp_path, doc)
    folder.rename(tmp_path / "renamed")
    with pytest.raises(DefinitionError, match="the model folder is 'renamed'; they must match"):
        load_definition(path=tmp_path / "renamed")
    loaded = load_definition(path=tmp_path / "renamed", named_after_folder=False)
    assert loaded.folder == tmp_path / "renamed"


def test_yaml_syntax_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"model\.yaml:\d+: invalid YAML"):
        parse_definition(text="model:\n  name: [toy\n", source="model.yaml")
    with pytest.raises(DefinitionError, match="file not found"):
        load_definition(path=tmp_path / "nope" / "model.yaml")
    with pytest.raises(DefinitionError, match="expected a mapping of sections, got list"):
        parse_definition(text="- a\n- b\n", source="inline")


def test_checked_in_driver_ranking_loads() -> None:
    definition = driver_ranking()
    assert (definition.name, definition.task) == ("driver_ranking", Task.BINARY)
    assert definition.feature_service == "driver_ranking_v1"
    assert definition.gate.thresholds == {"roc_auc": 0.75, "log_loss": 0.60}
    assert definition.threshold == 0.5
    assert definition.folder == DRIVER_RANKING
    assert definition.digest().startswith("sha256:")
    assert "sagemaker" not in definition.lineage()
    with pytest.raises(ValueError, match="frozen"):
        definition.model.name = "other"  # type: ignore[misc]


def test_yaml_round_trip_gives_an_equal_definition(tmp_path: Path) -> None:
    definition = driver_ranking()
    again = parse_definition(text=definition.to_yaml(), source="copy")
    assert again.lineage() == definition.lineage()
    assert again.digest() == definition.digest()
    assert isinstance(again, ModelDefinition)


def test_catalog_finds_models_by_name_or_path(tmp_path: Path) -> None:
    first = write_model(tmp_path, definition_doc("binary"))
    second = write_model(tmp_path, definition_doc("regression"))
    (tmp_path / "_template").mkdir()
    assert model_folders(root=tmp_path) == [first, second]
    assert find_models(None, root=tmp_path) == [first / "model.yaml", second / "model.yaml"]
    assert find_models(["toy_regression"], root=tmp_path) == [second / "model.yaml"]
    assert find_models([str(first), str(first / "model.yaml")], root=tmp_path) == [
        first / "model.yaml"
    ]
    with pytest.raises(
        DefinitionError, match=r"no model 'nope'.*known: toy_binary, toy_regression"
    ):
        find_models(["nope"], root=tmp_path)
    with pytest.raises(DefinitionError, match="no model folders"):
        find_models(None, root=tmp_path / "empty")


def test_every_checked_in_model_folder_loads() -> None:
    folders = model_folders()
    assert DRIVER_RANKING in folders
    for folder in folders:
        definition = load_definition(path=folder)
        assert definition.name == folder.name
        doc = yaml.safe_load((folder / "model.yaml").read_text())
        assert doc["model"]["task"] == str(definition.task)
