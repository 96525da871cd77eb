"""Build and register one model of each task, with each kind of estimator, on small data.

Built in (hist_gradient_boosting), scikit-learn by import path, xgboost, lightgbm and a user
entry point; the label check fails before training with one line naming file, field and
label. Every build is run twice: the same inputs give the same bundle digest.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from build_kits import definition_doc, training_set, write_model
from registry_fakes import InMemoryRegistry

from foundation.metrics import metrics_for
from model_build.definition.loader import load_definition
from model_build.definition.schema import ModelDefinition
from model_build.pipeline.estimators import EstimatorError
from model_build.pipeline.local_runner import BuildResult, run_training_set
from model_build.pipeline.plots import plot_files
from model_build.pipeline.steps.gate import NoServingModel
from model_build.pipeline.steps.labels import LabelError, check_label
from model_bundle.bundle import load_bundle
from model_bundle.task import Task
from services.inference.payload import Batch
from services.inference.predictor import Predictor

NONE = NoServingModel(reason="first build")
TASKS = ("binary", "multiclass", "regression")

ENTRYPOINT = '''\
"""A team's own training code: the documented contract of train.entrypoint."""

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def train(*, frame, features, label, task, params, seed):
    categorical = [f for f in features if frame[f].dtype == object]
    numeric = [f for f in features if f not in categorical]
    encode = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="none"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    prep = ColumnTransformer([("num", StandardScaler(), numeric), ("cat", encode, categorical)])
    if task == "regression":
        model = Ridge(alpha=params["alpha"])
    else:
        model = LogisticRegression(C=params["C"], max_iter=500, random_state=seed)
    return Pipeline([("prep", prep), ("model", model)]).fit(frame[features], frame[label])
'''

ESTIMATORS: dict[str, dict[str, dict[str, Any]]] = {
    "builtin": {task: {} for task in TASKS},
    "sklearn": {
        "binary": {"estimator": "sklearn.ensemble.RandomForestClassifier",
                   "hyperparameters": {"n_estimators": 20, "max_depth": 6}},
        "multiclass": {"estimator": "sklearn.ensemble.ExtraTreesClassifier",
                       "hyperparameters": {"n_estimators": 20, "max_depth": 6}},
        "regression": {"estimator": "sklearn.ensemble.RandomForestRegressor",
                       "hyperparameters": {"n_estimators": 20, "max_depth": 6}},
    },
    "xgboost": {
        task: {"estimator": f"xgboost.XGB{'Regressor' if task == 'regression' else 'Classifier'}",
               "hyperparameters": {"n_estimators": 30, "max_depth": 3, "learning_rate": 0.2}}
        for task in TASKS
    },
    "lightgbm": {
        task: {"estimator": f"lightgbm.LGBM{'Regressor' if task == 'regression' else 'Classifier'}",
               "hyperparameters": {"n_estimators": 30, "num_leaves": 15, "learning_rate": 0.2}}
        for task in TASKS
    },
    "entrypoint": {
        task: {"estimator": None, "entrypoint": "my_models.fare:train",
               "hyperparameters": {"alpha": 1.0} if task == "regression" else {"C": 1.0}}
        for task in TASKS
    },
}  # fmt: skip


def _definition(root: Path, task: str, kind: str) -> ModelDefinition:
    doc = definition_doc(task)
    doc["train"].update(ESTIMATORS[kind][task])
    if task != "regression":
        doc["gate"]["thresholds"] = {"roc_auc": 0.6, "log_loss": 1.5}
    code = (
        {"my_models/__init__.py": "", "my_models/fare.py": ENTRYPOINT}
        if kind == "entrypoint"
        else None
    )
    return load_definition(path=write_model(root, doc, code=code))


def _build(definition: ModelDefinition, run_dir: Path, registry: InMemoryRegistry) -> BuildResult:
    task = str(definition.task)
    return run_training_set(
        definition=definition,
        training_set=training_set(task),
        registry=registry,
        run_dir=run_dir,
        serving=NONE,
        git_commit="0" * 40,
    )


# --- failure paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "values", "reason"),
    [
        ("binary", [12.5, 7.25, 3.0],
         "is float64 (e.g. 12.5), but task 'binary' needs class labels"),
        ("multiclass", [1.0, 2.0, 3.0], "store the classes as integers"),
        ("binary", [1, 1, 1], "has a single class (1)"),
        ("binary", ["a", "b", "c"],
         "has 3 classes ('a', 'b', 'c'), but task 'binary' needs exactly 2"),
        ("multiclass", [0, 1, 0], "has 2 classes (0, 1); use task 'binary'"),
        ("multiclass", list(range(60)),
         "has 60 classes (0, 1, 2, 3, 4 ...), more than data.max_classes (50)"),
        ("regression", ["cheap", "dear"],
         "is object (e.g. 'cheap'), but task 'regression' needs a numeric label"),
        ("regression", [True, False], "is bool"),
        ("regression", [4.0, None], "has 1 missing value(s) of 2"),
    ],
)  # fmt: skip
def test_a_label_that_does_not_fit_the_task_is_one_clear_line(
    task: str, values: list[Any], reason: str
) -> None:
    import pandas as pd

    with pytest.raises(LabelError) as caught:
        check_label(pd.Series(values), task=Task(task), label="fare", source="models/m/model.yaml")
    message = str(caught.value)
    assert message.startswith("models/m/model.yaml: field 'data.label': label 'fare' ")
    assert reason in message
    assert "\n" not in message


def test_the_label_check_stops_the_build_before_training(tmp_path: Path) -> None:
    doc = definition_doc("binary")
    doc["data"]["label"] = "fare"
    definition = load_definition(path=write_model(tmp_path, doc))
    registry = InMemoryRegistry()
    with pytest.raises(LabelError, match="label 'fare' is float64"):
        run_training_set(
            definition=definition, training_set=training_set("regression"), registry=registry,
            run_dir=tmp_path / "runs", serving=NONE,
        )  # fmt: skip
    (run_json,) = (tmp_path / "runs").glob("*/run.json")
    import json

    run = json.loads(run_json.read_text())
    assert (run["status"], run["failed_step"]) == ("failed", "label")
    assert "train" not in run["timings"]
    assert registry.versions == {}


def test_an_entry_point_must_return_a_servable_estimator(tmp_path: Path) -> None:
    local_class = (
        "class Constant:\n"
        "    def predict(self, x):\n"
        "        return [1.0] * len(x)\n\n"
        "def train(*, frame, features, label, task, params, seed):\n"
        "    return Constant()\n"
    )
    doc = definition_doc("regression", estimator=None, entrypoint="mine:train")
    definition = load_definition(path=write_model(tmp_path, doc, code={"mine.py": local_class}))
    with pytest.raises(EstimatorError, match=r"uses code from the model folder \(mine\)"):
        _build(definition, tmp_path / "runs", InMemoryRegistry())
    doc = definition_doc("regression", estimator=None, entrypoint="other:train")
    code = {"other.py": "def train(frame, features):\n    return None\n"}
    definition = load_definition(path=write_model(tmp_path / "b", doc, code=code))
    with pytest.raises(EstimatorError, match="must accept the keyword arguments frame, features"):
        _build(definition, tmp_path / "runs2", InMemoryRegistry())


def test_an_unknown_estimator_class_names_what_to_install(tmp_path: Path) -> None:
    doc = definition_doc("binary", estimator="sklearn.ensemble.NoSuchForest")
    definition = load_definition(path=write_model(tmp_path, doc))
    with pytest.raises(EstimatorError, match=r"sklearn\.ensemble has no NoSuchForest"):
        _build(definition, tmp_path / "runs", InMemoryRegistry())
    doc = definition_doc("binary", estimator="catboost_missing.CatBoostClassifier")
    definition = load_definition(path=write_model(tmp_path / "b", doc))
    with pytest.raises(EstimatorError, match="cannot import catboost_missing"):
        _build(definition, tmp_path / "runs2", InMemoryRegistry())


# --- builds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ESTIMATORS))
@pytest.mark.parametrize("task", TASKS)
def test_build_and_register_each_task_with_each_estimator(
    tmp_path: Path, task: str, kind: str
) -> None:
    if kind in ("xgboost", "lightgbm"):
        pytest.importorskip(kind, reason=f"the optional extra slipway[{kind}] is not installed")
    definition = _definition(tmp_path / "models", task, kind)
    registry = InMemoryRegistry()
    first = _build(definition, tmp_path / "runs", registry)
    again = _build(definition, tmp_path / "runs", registry)
    assert first.artifact_digest == again.artifact_digest  # same inputs, same digest
    assert first.metrics == again.metrics
    assert first.status == "registered"
    assert first.task == task
    version = registry.get(model_name=f"toy_{task}", version=1)
    assert version.task == Task(task)
    assert set(version.metrics) == set(metrics_for(task))
    assert sorted(p.name for p in (first.run_dir / "plots").iterdir()) == sorted(
        plot_files(Task(task))
    )
    bundle = load_bundle(directory=first.run_dir / "bundle")
    assert bundle.task == Task(task)
    if task == "binary":
        assert (bundle.classes, bundle.threshold) == ([0, 1], 0.5)
        assert version.metrics["roc_auc"] > 0.7
    elif task == "multiclass":
        assert (bundle.classes, bundle.threshold) == (["high", "low", "mid"], None)
        assert version.metrics["roc_auc"] > 0.7
    else:
        assert (bundle.classes, bundle.threshold) == (None, None)
        assert version.metrics["r2"] > 0.5
    if kind == "entrypoint":
        assert bundle.metadata["estimator"] == "entrypoint:my_models.fare:train"
        assert bundle.metadata["code_digest"].startswith("sha256:")
    _served_equals_fitted(bundle, first, task)


def _served_equals_fitted(bundle: Any, result: BuildResult, task: str) -> None:
    """The inference predictor answers what the fitted estimator says, to 1e-12."""
    predictor = Predictor.load(bundle_dir=result.run_dir / "bundle")
    rows = training_set(task, rows=60, seed=99).frame[bundle.features]
    columns = []
    for name in predictor.schema.features:
        values = rows[name].to_numpy()
        if values.dtype == object:
            column = np.empty(len(values), dtype=object)
            column[:] = [None if v is None else str(v) for v in values]
        else:
            column = values.astype(np.float64)
        columns.append(column)
    answer = predictor.predict(Batch(columns=tuple(columns), rows=len(rows))).records()
    if task == "regression":
        expected = bundle.estimator.predict(rows)
        np.testing.assert_allclose([a["prediction"] for a in answer], expected, rtol=0, atol=1e-12)
        return
    proba = bundle.estimator.predict_proba(rows)
    if task == "binary":
        np.testing.assert_allclose([a["probability"] for a in answer], proba[:, 1], atol=1e-12)
        assert [a["label"] for a in answer] == [int(p >= 0.5) for p in proba[:, 1]]
        return
    got = np.array([[a["probabilities"][str(c)] for c in bundle.classes] for a in answer])
    np.testing.assert_allclose(got, proba, rtol=0, atol=1e-12)
    assert [a["label"] for a in answer] == [bundle.classes[i] for i in proba.argmax(axis=1)]


def test_two_model_folders_with_the_same_package_each_import_their_own(tmp_path: Path) -> None:
    """my_models.fare of one folder is not reused for another folder's build."""
    first = _definition(tmp_path / "a", "regression", "entrypoint")
    other = ENTRYPOINT.replace('Ridge(alpha=params["alpha"])', 'Ridge(alpha=params["alpha"] * 50)')
    doc = definition_doc("regression", estimator=None, entrypoint="my_models.fare:train",
                         hyperparameters={"alpha": 1.0})  # fmt: skip
    code = {"my_models/__init__.py": "", "my_models/fare.py": other}
    second = load_definition(path=write_model(tmp_path / "b", doc, code=code))
    one = _build(first, tmp_path / "runs", InMemoryRegistry())
    two = _build(second, tmp_path / "runs", InMemoryRegistry())
    assert one.artifact_digest != two.artifact_digest
    assert one.metrics["rmse"] != two.metrics["rmse"]
    assert not any(str(tmp_path) in p for p in sys.path)  # the folders left sys.path
