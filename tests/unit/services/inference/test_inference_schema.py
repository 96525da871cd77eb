"""Reading a model's input contract from the fitted estimator; unusable bundles fail at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from inference_bundles import FEATURES, NUMERIC, fit_pipeline, make_frame, records

from model_bundle.bundle import BundleError, ModelBundle, save_bundle
from services.inference.predictor import Predictor
from services.inference.schema import FeatureKind, infer_schema
from services.inference.server import create_inference_app


def strictly_positive(x: Any) -> Any:
    """A transformer that refuses the warm-up row (zeros)."""
    if (np.asarray(x) <= 0).any():
        raise ValueError("needs positive values")
    return np.log(x)


def _labels(rows: int) -> np.ndarray:
    return np.arange(rows) % 2


def test_pipeline_schema() -> None:
    schema = infer_schema(estimator=fit_pipeline(), features=FEATURES)
    assert schema.features == tuple(FEATURES)
    assert schema.model_columns == tuple(FEATURES)
    assert schema.kinds["customer_segment"] is FeatureKind.CATEGORY
    assert all(schema.kinds[f] is FeatureKind.NUMBER for f in NUMERIC)
    assert schema.categories == {}


def test_strict_encoder_lists_categories() -> None:
    schema = infer_schema(estimator=fit_pipeline(handle_unknown="error"), features=FEATURES)
    assert schema.categories == {"customer_segment": frozenset({"standard", "plus", "business"})}


def test_encoded_numeric_column_stays_a_number() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = make_frame(100, seed=1)[["online_hours", "rating"]]
    prep = ColumnTransformer(
        [("hour", OneHotEncoder(handle_unknown="ignore"), ["online_hours"])],
        remainder="passthrough",
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, _labels(100))
    schema = infer_schema(estimator=model, features=["online_hours", "rating"])
    assert schema.kinds == {"online_hours": FeatureKind.NUMBER, "rating": FeatureKind.NUMBER}


def test_array_fitted_model_gets_a_matrix(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = make_frame(200, seed=2)[NUMERIC]
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(frame.to_numpy(), _labels(200))
    save_bundle(ModelBundle(estimator=model, features=NUMERIC), directory=tmp_path)
    predictor = Predictor.load(bundle_dir=tmp_path)
    assert predictor.schema.model_columns is None
    client = TestClient(create_inference_app(bundle_dir=tmp_path))
    rows = make_frame(20, seed=3)[NUMERIC]
    body = client.post("/invocations", json=records(rows)).json()
    got = np.array([p["probability"] for p in body["predictions"]])
    want = model.predict_proba(rows.to_numpy(dtype=np.float64))[:, 1]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_string_class_labels_use_the_second_column(tmp_path: Path) -> None:
    model = fit_pipeline()
    frame = make_frame(50, seed=4)
    model.fit(frame, np.where(_labels(50) == 1, "yes", "no"))
    save_bundle(ModelBundle(estimator=model, features=FEATURES), directory=tmp_path)
    client = TestClient(create_inference_app(bundle_dir=tmp_path))
    body = client.post("/invocations", json=records(frame.head(5))).json()
    got = [p["probability"] for p in body["predictions"]]
    assert got == model.predict_proba(frame.head(5))[:, 1].tolist()


def _bundle(tmp_path: Path, *, estimator: Any, features: list[str]) -> Path:
    save_bundle(ModelBundle(estimator=estimator, features=features), directory=tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("features", "fragment"),
    [
        (FEATURES[:-1], "not in bundle.json: trip_distance_km"),
        ([*FEATURES, "surge"], "not in the model: surge"),
        ([*FEATURES, "rating"], "more than once: rating"),
        ([], "lists no features"),
    ],
)
def test_bundle_features_must_match_the_model(
    tmp_path: Path, features: list[str], fragment: str
) -> None:
    directory = _bundle(tmp_path, estimator=fit_pipeline(), features=features)
    with pytest.raises(BundleError, match=fragment):
        create_inference_app(bundle_dir=directory)


def test_unusable_estimators_fail_at_load(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    matrix = np.random.default_rng(5).normal(size=(60, len(NUMERIC)))
    svc = LinearSVC().fit(matrix, _labels(60))
    with pytest.raises(BundleError, match="no predict_proba"):
        create_inference_app(bundle_dir=_bundle(tmp_path / "a", estimator=svc, features=NUMERIC))
    three = LogisticRegression().fit(matrix, np.arange(60) % 3)
    with pytest.raises(BundleError, match="binary classifier"):
        create_inference_app(bundle_dir=_bundle(tmp_path / "b", estimator=three, features=NUMERIC))
    with pytest.raises(BundleError, match="fitted on 13 features"):
        create_inference_app(
            bundle_dir=_bundle(
                tmp_path / "c",
                estimator=LogisticRegression().fit(matrix, _labels(60)),
                features=FEATURES,
            )
        )
    with pytest.raises(BundleError, match="file not found"):
        create_inference_app(bundle_dir=tmp_path / "missing")


def test_failed_warm_up_only_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame = pd.DataFrame({"trip_distance_km": np.linspace(1, 9, 40)})
    model = Pipeline(
        [("log", FunctionTransformer(strictly_positive)), ("clf", LogisticRegression())]
    ).fit(frame, _labels(40))
    directory = _bundle(tmp_path, estimator=model, features=["trip_distance_km"])
    client = TestClient(create_inference_app(bundle_dir=directory))
    assert "warm-up prediction failed" in caplog.text
    assert client.post("/invocations", json=[{"trip_distance_km": 2.0}]).status_code == 200


def test_encoder_behind_an_imputer_is_found_through_its_column_transformer() -> None:
    """Regression: the build pipeline imputes before one-hot; the encoder sees no names."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from services.inference.schema import FeatureKind, infer_schema

    frame = pd.DataFrame({"seg": ["a", "b", "a", "b"], "x": [0.1, 0.2, 0.3, 0.4]})
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("cat", categorical, ["seg"]), ("num", StandardScaler(), ["x"])]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(frame, np.array([0, 1, 0, 1]))
    schema = infer_schema(estimator=model, features=["seg", "x"])
    assert schema.kinds["seg"] is FeatureKind.CATEGORY
    assert schema.kinds["x"] is FeatureKind.NUMBER
