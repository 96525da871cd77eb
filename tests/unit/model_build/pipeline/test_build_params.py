"""params.yaml: strict loading, errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from model_build.errors import BuildError
from model_build.pipeline.params import (
    DEFAULT_PARAMS_PATH,
    BuildParams,
    ParamsError,
    load_params,
    parse_params,
)


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    return path


def _default() -> dict[str, object]:
    raw = yaml.safe_load(DEFAULT_PARAMS_PATH.read_text())
    assert isinstance(raw, dict)
    return raw


def test_checked_in_params_load() -> None:
    params = load_params()
    assert params.model.name == "driver_ranking"
    assert params.model.feature_service == "driver_ranking_v1"
    assert params.gate.min_roc_auc == 0.75
    assert params.train.hyperparameters.max_iter >= 1
    assert params.digest().startswith("sha256:")


def test_yaml_round_trip_gives_equal_params(tmp_path: Path) -> None:
    params = load_params()
    again = load_params(path=_write(tmp_path, params.to_yaml()))
    assert again == params
    assert again.digest() == params.digest()


def test_lineage_leaves_out_sagemaker_settings() -> None:
    lineage = load_params().lineage()
    assert "sagemaker" not in lineage
    assert lineage["train"]["seed"] == 42


_DELETE = object()


def _set(doc: dict[str, object], dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    node: object = doc
    for part in parents:
        node = node[part]  # type: ignore[index]
    if value is _DELETE:
        del node[last]  # type: ignore[attr-defined]
    else:
        node[last] = value  # type: ignore[index]


@pytest.mark.parametrize(
    ("dotted", "value", "field", "reason"),
    [
        ("train.hyperparameters.learnin_rate", 0.1, None, "unknown field"),
        ("train.hyperparameters.learning_rate", 0, None, "greater than 0"),
        ("gate.min_roc_auc", "high", None, "valid number"),
        ("data.holdout_fraction", 0.9, None, "less than or equal to 0.5"),
        ("gate.serving_tolerance.accuracy_score", 0.1, None, "roc_auc"),
        ("gate.serving_tolerance.roc_auc", -0.1, "gate.serving_tolerance", "must be >= 0"),
        ("evaluate", _DELETE, None, "Field required"),
        ("extra_section", {}, None, "unknown field"),
        ("model.name", "bad name", None, "pattern"),
    ],
)
def test_invalid_field_names_file_and_field(
    tmp_path: Path, dotted: str, value: object, field: str | None, reason: str
) -> None:
    field = field or dotted
    doc = _default()
    _set(doc, dotted, value)
    path = _write(tmp_path, doc)
    with pytest.raises(ParamsError) as caught:
        load_params(path=path)
    message = str(caught.value)
    assert message.startswith(f"{path}: field '{field}'")
    assert reason in message
    assert "\n" not in message
    assert isinstance(caught.value, BuildError)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "model:\n  name: [driver\n")
    with pytest.raises(ParamsError, match=r"params\.yaml: line \d+: invalid YAML"):
        load_params(path=path)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="file not found"):
        load_params(path=tmp_path / "nope.yaml")
    with pytest.raises(ParamsError, match="expected a mapping"):
        load_params(path=_write(tmp_path, "- a\n- b\n"))


def test_parse_params_reports_error_count() -> None:
    doc = _default()
    doc["train"]["seed"] = -1  # type: ignore[index]
    doc["gate"]["min_roc_auc"] = 2  # type: ignore[index]
    with pytest.raises(ParamsError, match=r"^inline: field 'train.seed'.*\(and 1 more\)$"):
        parse_params(doc, source="inline")


def test_params_are_frozen() -> None:
    params = load_params()
    assert isinstance(params, BuildParams)
    with pytest.raises(ValueError, match="frozen"):
        params.model.name = "other"  # type: ignore[misc]
