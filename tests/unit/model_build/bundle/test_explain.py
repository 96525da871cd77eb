"""SHAP values add up to the model's output: tree models (raw score) and the fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_bundle.explain import Explainer
from model_bundle.task import Task

FEATURES = ["a", "n", "c"]


def _frame(rows: int = 400, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "n": rng.integers(0, 6, rows).astype(float),
            "c": rng.choice(["x", "y", "z"], rows).astype(object),
        }
    )
    frame.loc[5, "c"] = None
    return frame


def _pipeline(model: object) -> Pipeline:
    encode = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    pre = ColumnTransformer(
        [("categorical", encode, ["c"]), ("numeric", StandardScaler(), ["a", "n"])],
        verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", pre), ("model", model)])


def _labels(frame: pd.DataFrame, task: Task) -> pd.Series:
    score = frame["a"] + 0.3 * frame["n"] + (frame["c"] == "z")
    if task is Task.REGRESSION:
        return score
    if task is Task.BINARY:
        return (score > 1.0).astype(int)
    return pd.Series(np.digitize(score, [0.5, 1.5]), index=frame.index)


def test_no_tree_and_no_background_is_an_error() -> None:
    frame = _frame()
    model = _pipeline(LogisticRegression()).fit(frame, _labels(frame, Task.BINARY))
    with pytest.raises(ValueError, match="not a tree model"):
        Explainer(estimator=model, features=FEATURES, task=Task.BINARY, classes=[0, 1])


@pytest.mark.parametrize(
    ("task", "make", "raw"),
    [
        (Task.BINARY, lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0),
         "decision_function"),
        (Task.MULTICLASS, lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0),
         "decision_function"),
        (Task.REGRESSION, lambda: HistGradientBoostingRegressor(max_iter=20, random_state=0),
         "predict"),
        (Task.BINARY, lambda: RandomForestClassifier(n_estimators=10, random_state=0),
         "predict_proba"),
    ],
)  # fmt: skip
def test_tree_shap_values_sum_with_the_expected_value_to_the_raw_output(
    task: Task, make: object, raw: str
) -> None:
    frame = _frame()
    y = _labels(frame, task)
    model = _pipeline(make()).fit(frame, y)  # type: ignore[operator]
    classes = sorted(set(y.tolist())) if task.is_classification else None
    explainer = Explainer(estimator=model, features=FEATURES, task=task, classes=classes)
    assert explainer.method == "tree"
    rows = frame.iloc[:60]
    explanation = explainer.explain(rows)
    assert explanation.values.shape[:2] == (60, 3)
    expected = np.asarray(getattr(model, raw)(rows), dtype=np.float64)
    if raw == "predict_proba":
        expected = expected[:, 1]
        assert explanation.kind == "probability"
    elif task is not Task.REGRESSION:
        assert explanation.kind == "raw_score"
    expected = expected.reshape(60, -1)
    np.testing.assert_allclose(explanation.totals(), expected, rtol=0, atol=1e-6)
    names = [name for name, _ in explanation.importance()]
    assert sorted(names) == sorted(FEATURES)
    assert names[0] == "a"  # the strongest signal


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_boosting_libraries_are_explained_by_trees(library: str) -> None:
    module = pytest.importorskip(library)
    frame = _frame()
    y = _labels(frame, Task.BINARY)
    make = module.LGBMClassifier if library == "lightgbm" else module.XGBClassifier
    kwargs = {"verbose": -1} if library == "lightgbm" else {}
    model = _pipeline(make(n_estimators=15, **kwargs)).fit(frame, y)
    explainer = Explainer(estimator=model, features=FEATURES, task=Task.BINARY, classes=[0, 1])
    explanation = explainer.explain(frame.iloc[:30])
    proba = model.predict_proba(frame.iloc[:30])[:, 1]
    margin = np.log(proba / (1 - proba))
    np.testing.assert_allclose(explanation.totals()[:, 0], margin, rtol=0, atol=1e-5)


def test_the_fallback_is_exactly_additive_on_the_served_probability() -> None:
    frame = _frame()
    y = _labels(frame, Task.BINARY)
    model = _pipeline(LogisticRegression()).fit(frame, y)
    explainer = Explainer(
        estimator=model, features=FEATURES, task=Task.BINARY, classes=[0, 1],
        background=frame.iloc[100:200], seed=3,
    )  # fmt: skip
    assert (explainer.method, explainer.note.endswith("is not a tree model")) == (
        "permutation",
        True,
    )
    rows = frame.iloc[:15]
    explanation = explainer.explain(rows)
    np.testing.assert_allclose(
        explanation.totals()[:, 0], model.predict_proba(rows)[:, 1], rtol=0, atol=1e-12
    )
    again = explainer.explain(rows)
    np.testing.assert_array_equal(again.values, explanation.values)
    top = explanation.top(0, k=2)
    assert len(top) == 1
    assert len(top[0]["contributions"]) == 2
    first = top[0]["contributions"][0]
    assert first["feature"] in FEATURES
    assert first["value"] == _value(rows.iloc[0][first["feature"]])


def _value(value: object) -> object:
    item = getattr(value, "item", None)
    return item() if callable(item) else value
