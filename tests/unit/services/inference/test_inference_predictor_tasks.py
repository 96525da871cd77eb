"""Answers per task: binary {probability, label}, multiclass {probabilities, label}, regression
{prediction}; equal to the fitted estimator's predict / predict_proba to 1e-12.

The predictor is checked directly and through the inference app in-process (TestClient).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from inference_bundles import MULTICLASS, make_frame, records, write_bundle, write_task_bundle

from model_bundle.bundle import MLMODEL_FILE, MODEL_FILE, BundleError, load_bundle
from model_bundle.task import Task
from services.inference.payload import parse_json
from services.inference.predictor import Predictor
from services.inference.server import create_inference_app

TASKS = ("binary", "multiclass", "regression")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("task-bundles")
    return {task: write_task_bundle(root / task, task=task) for task in TASKS}


def _answer(predictor: Predictor, rows: list[dict[str, Any]]) -> Any:
    body = json.dumps({"instances": rows}).encode()
    return predictor.predict(parse_json(body, schema=predictor.schema))


def _check(task: str, bundle_dir: Path, answer: list[dict[str, Any]], rows: Any) -> None:
    bundle = load_bundle(directory=bundle_dir)
    x = rows[bundle.features]
    if task == "regression":
        assert all(set(a) == {"prediction"} for a in answer)
        expected = bundle.estimator.predict(x)
        np.testing.assert_allclose([a["prediction"] for a in answer], expected, rtol=0, atol=1e-12)
        return
    proba = bundle.estimator.predict_proba(x)
    if task == "binary":
        assert all(set(a) == {"probability", "label"} for a in answer)
        np.testing.assert_allclose([a["probability"] for a in answer], proba[:, 1], atol=1e-12)
        expected = ["churn" if p >= 0.4 else "stay" for p in proba[:, 1]]
        assert [a["label"] for a in answer] == expected
        return
    assert all(set(a) == {"probabilities", "label"} for a in answer)
    assert all(list(a["probabilities"]) == MULTICLASS for a in answer)  # bundle's class order
    got = np.array([[a["probabilities"][c] for c in MULTICLASS] for a in answer])
    np.testing.assert_allclose(got, proba, rtol=0, atol=1e-12)
    assert [a["label"] for a in answer] == [MULTICLASS[i] for i in proba.argmax(axis=1)]


def test_a_bundle_whose_estimator_does_not_fit_its_task_is_refused(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    meta = json.loads((bundles["regression"] / "bundle.json").read_text())
    for task, message in (("binary", "no predict_proba"), ("multiclass", "no predict_proba")):
        folder = tmp_path / task
        folder.mkdir()
        for name in (MODEL_FILE, MLMODEL_FILE):
            (folder / name).write_bytes((bundles["regression"] / name).read_bytes())
        (folder / "bundle.json").write_text(json.dumps({**meta, "task": task, "classes": None}))
        with pytest.raises(BundleError, match=message):
            Predictor.load(bundle_dir=folder)
    folder = tmp_path / "two"
    folder.mkdir()
    binary = json.loads((bundles["binary"] / "bundle.json").read_text())
    for name in (MODEL_FILE, MLMODEL_FILE):
        (folder / name).write_bytes((bundles["binary"] / name).read_bytes())
    (folder / "bundle.json").write_text(json.dumps({**binary, "task": "multiclass"}))
    with pytest.raises(BundleError, match="expected a multiclass classifier, the model has 2"):
        Predictor.load(bundle_dir=folder)


@pytest.mark.parametrize("task", TASKS)
def test_the_predictor_answers_per_task_like_the_fitted_estimator(
    bundles: dict[str, Path], task: str
) -> None:
    predictor = Predictor.load(bundle_dir=bundles[task])
    rows = make_frame(50, seed=7)
    scores = _answer(predictor, records(rows))
    assert scores.task == Task(task)
    _check(task, bundles[task], scores.records(), rows)
    lines = scores.csv_body().decode().splitlines()
    assert len(lines) == 50
    width = {"binary": 2, "multiclass": 1 + len(MULTICLASS), "regression": 1}[task]
    assert all(len(line.split(",")) == width for line in lines)
    if task != "binary":
        with pytest.raises(TypeError, match=f"a {task} answer has no binary probabilities"):
            _ = scores.probabilities


@pytest.mark.parametrize("task", TASKS)
def test_metadata_names_the_task_and_classes(bundles: dict[str, Path], task: str) -> None:
    client = TestClient(create_inference_app(bundle_dir=bundles[task]))
    meta = client.get("/metadata").json()
    assert meta["task"] == task
    expected = {"binary": ["stay", "churn"], "multiclass": MULTICLASS, "regression": None}[task]
    assert meta["classes"] == expected
    assert meta["threshold"] == (0.4 if task == "binary" else None)


@pytest.mark.parametrize(
    "task",
    [
        "binary",
        "multiclass",
        "regression",
    ],
)
def test_the_app_answers_per_task_like_the_fitted_estimator(
    bundles: dict[str, Path], task: str
) -> None:
    client = TestClient(create_inference_app(bundle_dir=bundles[task], model_ref=f"toy:{task}"))
    rows = make_frame(40, seed=11)
    response = client.post("/invocations", json={"instances": records(rows)})
    assert response.status_code == 200, response.text
    _check(task, bundles[task], response.json()["predictions"], rows)


def test_a_bundle_from_before_tasks_is_served_as_binary_with_labels_0_and_1(
    tmp_path: Path,
) -> None:
    folder = write_bundle(tmp_path / "old")
    meta = json.loads((folder / "bundle.json").read_text())
    for key in ("task", "classes"):
        meta.pop(key)
    (folder / "bundle.json").write_text(json.dumps(meta))
    bundle = load_bundle(directory=folder)
    assert (bundle.task, bundle.classes, bundle.threshold) == (Task.BINARY, None, 0.5)
    client = TestClient(create_inference_app(bundle_dir=folder))
    rows = make_frame(30, seed=3)
    answer = client.post("/invocations", json={"instances": records(rows)}).json()["predictions"]
    proba = bundle.estimator.predict_proba(rows[bundle.features])[:, 1]
    np.testing.assert_allclose([a["probability"] for a in answer], proba, rtol=0, atol=1e-12)
    assert [a["label"] for a in answer] == [int(p >= 0.5) for p in proba]
    assert client.get("/metadata").json()["classes"] == [0, 1]


def test_an_old_bundle_keeps_its_positive_class_where_label_1_is(tmp_path: Path) -> None:
    """Fitted on labels 1 and 2 before classes were recorded: 1 is positive, answered 1/0."""
    from sklearn.linear_model import LogisticRegression

    from model_bundle.bundle import ModelBundle, save_bundle

    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 2))
    y = np.where(x[:, 0] + rng.normal(0, 0.3, 200) > 0, 1, 2)
    model = LogisticRegression().fit(x, y)
    folder = tmp_path / "old12"
    save_bundle(ModelBundle(estimator=model, features=["a", "b"]), directory=folder)
    meta = json.loads((folder / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps({k: meta[k] for k in ("features", "metadata")}))
    predictor = Predictor.load(bundle_dir=folder)
    rows = [{"a": float(a), "b": float(b)} for a, b in x[:20]]
    answer = _answer(predictor, rows).records()
    proba = model.predict_proba(x[:20])[:, 0]  # the column of label 1
    np.testing.assert_allclose([r["probability"] for r in answer], proba, rtol=0, atol=1e-12)
    assert [r["label"] for r in answer] == [int(p >= 0.5) for p in proba]
