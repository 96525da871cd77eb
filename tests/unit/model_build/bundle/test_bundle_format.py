"""The bundle is an MLflow model folder: reproducible digest, pyfunc loads it, old bundles load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_bundle.bundle import (
    META_FILE,
    MLMODEL_FILE,
    MODEL_FILE,
    BundleError,
    ModelBundle,
    bundle_digest,
    bundle_files,
    load_bundle,
    pack_bundle,
    save_bundle,
    unpack_bundle,
)
from model_bundle.mlmodel import requirements_of
from model_bundle.task import Task

FEATURES = ["a", "n", "c"]


def _frame(rows: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.random(rows),
            "n": rng.integers(0, 5, rows).astype(float),
            "c": rng.choice(["x", "y", "z"], rows).astype(object),
        }
    )
    frame.loc[3, "c"] = None
    return frame


def _pipeline(frame: pd.DataFrame) -> Pipeline:
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
    model = HistGradientBoostingClassifier(max_iter=15, random_state=1)
    y = ((frame["a"] > 0.5) ^ (frame["c"] == "z")).astype(int)
    return Pipeline([("preprocess", pre), ("classifier", model)]).fit(frame, y)


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, Pipeline]:
    frame = _frame()
    return frame, _pipeline(frame)


def _bundle(frame: pd.DataFrame, model: Pipeline) -> ModelBundle:
    return ModelBundle(
        estimator=model,
        features=FEATURES,
        metadata={"categorical": ["c"], "model_name": "toy"},
        classes=[0, 1],
        background=frame.head(20),
    )


def test_a_missing_or_unreadable_model_is_an_error_naming_the_file(
    fitted: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, model = fitted
    folder = tmp_path / "b"
    save_bundle(_bundle(frame, model), directory=folder)
    (folder / MODEL_FILE).write_bytes(b"not a pickle")
    with pytest.raises(BundleError, match=r"model\.pkl: cannot load the model"):
        load_bundle(directory=folder)
    (folder / MODEL_FILE).unlink()
    with pytest.raises(BundleError, match=r"model\.pkl: file not found"):
        load_bundle(directory=folder)
    (folder / MLMODEL_FILE).write_text("flavors: {}\n")
    with pytest.raises(BundleError, match="no sklearn flavour"):
        load_bundle(directory=folder)


def test_the_same_model_gives_the_same_digest_twice(
    fitted: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, model = fitted
    first = save_bundle(_bundle(frame, model), directory=tmp_path / "one")
    second = save_bundle(_bundle(frame, model), directory=tmp_path / "two")
    assert first == second
    assert bundle_files(tmp_path / "one") == bundle_files(tmp_path / "two")
    for name in bundle_files(tmp_path / "one"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    changed = save_bundle(
        ModelBundle(estimator=model, features=FEATURES, classes=[0, 1], threshold=0.6),
        directory=tmp_path / "three",
    )
    assert changed != first


def test_the_bundle_is_an_mlflow_model_pyfunc_loads(
    fitted: tuple[pd.DataFrame, Pipeline], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc
    from mlflow.models import Model

    frame, model = fitted
    folder = tmp_path / "bundle"
    save_bundle(_bundle(frame, model), directory=folder)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    loaded = mlflow.pyfunc.load_model(str(folder))
    rows = frame.iloc[:40]
    np.testing.assert_allclose(
        np.asarray(loaded.predict(rows)), model.predict_proba(rows), rtol=0, atol=1e-12
    )
    described = Model.load(str(folder / MLMODEL_FILE))
    assert described.signature is not None
    inputs = described.signature.inputs.to_dict()
    assert [(c["name"], c["type"]) for c in inputs] == [
        ("a", "double"), ("n", "double"), ("c", "string"),
    ]  # fmt: skip
    assert described.saved_input_example_info["type"] == "dataframe"
    example = json.loads((folder / "input_example.json").read_text())
    assert example["columns"] == FEATURES
    assert len(example["data"]) == 5
    sklearn_flavor = described.flavors["sklearn"]
    assert sklearn_flavor["serialization_format"] == "cloudpickle"


def test_mlflow_writes_the_same_flavours_for_the_same_model(
    fitted: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    """A drift check: our hand-written MLmodel has the flavours mlflow.sklearn.save_model writes."""
    import mlflow.sklearn

    frame, model = fitted
    ours = tmp_path / "ours"
    save_bundle(_bundle(frame, model), directory=ours)
    theirs = tmp_path / "theirs"
    mlflow.sklearn.save_model(
        model,
        str(theirs),
        serialization_format="cloudpickle",
        pyfunc_predict_fn="predict_proba",
        pip_requirements=["scikit-learn"],
    )
    mine = yaml.safe_load((ours / MLMODEL_FILE).read_text())["flavors"]
    made = yaml.safe_load((theirs / MLMODEL_FILE).read_text())["flavors"]
    made["sklearn"].pop("skops_trusted_types", None)
    assert mine == made


def test_requirements_pin_what_the_pickle_references() -> None:
    lightgbm = pytest.importorskip("lightgbm")
    frame = _frame(rows=80)
    model = lightgbm.LGBMRegressor(n_estimators=3, verbose=-1).fit(frame[["a", "n"]], frame["a"])
    pinned = requirements_of(model)
    names = [line.split("==")[0] for line in pinned]
    assert "lightgbm" in names
    assert {"mlflow", "cloudpickle", "scikit-learn", "numpy"} <= set(names)
    assert all("==" in line for line in pinned)
    assert "lightgbm" not in [r.split("==")[0] for r in requirements_of(LinearRegression())]


def test_an_old_joblib_bundle_loads_and_keeps_its_digest(
    fitted: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, model = fitted
    folder = tmp_path / "old"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib", compress=3)
    meta = {"features": FEATURES, "threshold": 0.5, "metadata": {"model_name": "old"}}
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    old_digest = hashlib.sha256()
    for name in (META_FILE, "model.joblib"):  # the digest old versions were registered with
        old_digest.update(name.encode())
        old_digest.update((folder / name).read_bytes())
    assert bundle_digest(directory=folder) == f"sha256:{old_digest.hexdigest()}"
    loaded = load_bundle(directory=folder)
    assert (loaded.task, loaded.classes, loaded.background) == (Task.BINARY, None, None)
    rows = frame.iloc[:10]
    np.testing.assert_array_equal(loaded.estimator.predict_proba(rows), model.predict_proba(rows))


def test_the_archive_holds_every_file_and_unpacks_to_the_same_digest(
    fitted: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, model = fitted
    folder = tmp_path / "bundle"
    digest = save_bundle(_bundle(frame, model), directory=folder)
    archive = pack_bundle(directory=folder, archive=tmp_path / "model.tar.gz")
    out = unpack_bundle(archive=archive, directory=tmp_path / "unpacked")
    assert bundle_files(out) == bundle_files(folder)
    assert bundle_digest(directory=out) == digest
    loaded = load_bundle(directory=out)
    assert loaded.background is not None
    assert list(loaded.background.columns) == FEATURES
