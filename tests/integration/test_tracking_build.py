"""``slipway build run`` on a real Feast repo is an MLflow run holding everything issue 15 lists.

One real CLI build (a subprocess, the embedded SQLite store beside the registry) of
driver_ranking with a declared sensitive attribute, read back through ``MlflowClient``: every
parameter (the flattened definition), every metric (holdout, bias, rows, step seconds), the
tags, every artifact file of the run folder (evaluation report, gate verdict, bias report,
validation results, training-set summary, plots, SHAP report and plots, monitoring baseline),
the logged model with its signature and input example; the registered version links the run,
``slipway models show`` prints it, and ``mlflow.pyfunc.load_model`` on the registered artifact
predicts what the inference server answers (to 1e-12).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from kits.feature_repos import END, copy_repo

from feature_store.demo_data import DemoSizes
from feature_store.registry_sync import apply
from model_build.definition.catalog import MODELS_DIR
from model_build.definition.loader import load_definition
from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import ModelVersion
from model_build.tracking.record import ARTIFACTS, flatten
from services.inference.server import create_inference_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SIZES = DemoSizes(drivers=30, customers=100, days=10, trips=6_000)
BIAS = {
    "attribute": "customer_segment",
    "facet": ["plus"],
    "thresholds": {"disparate_impact": {"min": 0.0}},
}


def _slipway(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slipway", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The build's JSON report, its registered version, run folder, model folder and repo."""
    base = tmp_path_factory.mktemp("tracked")
    repo = copy_repo(base / "feature_repo", sizes=SIZES, seed=5)
    apply(repo=repo)
    models = base / "models"
    shutil.copytree(MODELS_DIR / "driver_ranking", models / "driver_ranking")
    definition_file = models / "driver_ranking" / "model.yaml"
    document = yaml.safe_load(definition_file.read_text())
    document["bias"] = BIAS
    definition_file.write_text(yaml.safe_dump(document, sort_keys=False))
    registry = base / "registry"
    env = {
        **os.environ, "GX_ANALYTICS_ENABLED": "false", "COLUMNS": "200",
        "SLIPWAY_REGISTRY": "local", "SLIPWAY_REGISTRY_PATH": str(registry),
    }  # fmt: skip
    for name in ("SLIPWAY_TRACKING", "SLIPWAY_TRACKING_URI", "SLIPWAY_TRACKING_DIR"):
        env.pop(name, None)
    done = _slipway(
        "build", "run", "--models-dir", str(models), "--model", "driver_ranking",
        "--repo", str(repo.path), "--run-dir", str(base / "runs"), "--no-compare-prod",
        "--now", END.isoformat(), "--format", "json", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    (build,) = report if isinstance(report, list) else report["builds"]
    version = LocalRegistry(registry).get(model_name="driver_ranking", version=1)
    shown = _slipway("models", "show", "driver_ranking:1", env=env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    return {
        "build": build, "version": version, "run_folder": Path(build["run_dir"]),
        "definition": models / "driver_ranking", "repo": repo, "models_show": shown.stdout,
    }  # fmt: skip


def _client(version: ModelVersion) -> Any:
    from mlflow.tracking import MlflowClient

    assert version.tracking is not None
    return MlflowClient(tracking_uri=version.tracking.tracking_uri)


def _files(client: Any, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for entry in client.list_artifacts(run_id, path):
        found |= _files(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


def test_the_build_is_a_run_with_every_parameter_metric_and_tag(built: dict[str, Any]) -> None:
    version: ModelVersion = built["version"]
    link = version.tracking
    assert link is not None
    assert built["build"]["tracking"]["run_id"] == link.run_id
    assert link.tracking_uri.startswith("sqlite:///")
    assert link.tracking_uri.endswith("/tracking/mlflow.db")  # the embedded store
    client = _client(version)
    run = client.get_run(link.run_id)
    assert (run.info.status, run.info.run_name) == ("FINISHED", built["run_folder"].name)
    definition = load_definition(path=built["definition"])
    assert run.data.params == flatten(definition.model_dump(mode="json"))
    assert run.data.params["bias.attribute"] == "customer_segment"
    metrics = run.data.metrics
    assert {k: metrics[k] for k in version.metrics} == version.metrics
    assert version.bias is not None
    assert version.bias.passed is True
    logged_bias = {k.removeprefix("bias."): v for k, v in metrics.items() if k.startswith("bias.")}
    assert logged_bias == {k: v for k, v in version.bias.metrics.items() if v is not None}
    assert len(logged_bias) == 5
    assert metrics["train_rows"] > 0
    assert metrics["holdout_rows"] > 0
    assert {"seconds.train", "seconds.evaluate", "seconds.explain"} <= set(metrics)
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == version.git_sha
    assert len(version.git_sha) == 40
    assert tags["slipway.data_hash"] == version.data_hash
    assert tags["slipway.feature_service"] == "driver_ranking_v1"
    assert tags["slipway.slipway_version"] == importlib.metadata.version("slipway")
    assert tags["slipway.model_name"] == "driver_ranking"
    assert tags["slipway.artifact_digest"] == version.artifact_digest
    assert tags["slipway.status"] == "registered"
    assert tags["slipway.registered"] == "driver_ranking:1"


def test_every_artifact_of_the_run_folder_and_the_logged_model(
    built: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.models import get_model_info

    version: ModelVersion = built["version"]
    assert version.tracking is not None
    folder: Path = built["run_folder"]
    logged = _files(_client(version), version.tracking.run_id)
    on_disk = {
        str(path.relative_to(folder))
        for name in ARTIFACTS
        for path in ([folder / name] if (folder / name).is_file() else (folder / name).rglob("*"))
        if path.is_file()
    }
    assert logged == on_disk
    assert {
        "evaluation.json", "gate.json", "bias.json", "validation.json", "training_set.json",
        "plots/roc.png", "explanations/shap_importance.png",
    } <= logged  # fmt: skip
    assert any(name.startswith("explanations/shap_dependence_") for name in logged)
    assert any(name.startswith("baseline/") for name in logged)
    assert built["build"]["shap_plot"].endswith("shap_importance.png")
    assert Path(built["build"]["shap_plot"]).is_file()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", version.tracking.tracking_uri)
    info = get_model_info(version.tracking.model_uri)
    assert info.signature is not None
    assert [c["name"] for c in info.signature.inputs.to_dict()][:3] == version.features[:3]
    assert info.saved_input_example_info is not None
    model = _client(version).get_logged_model(version.tracking.model_uri.removeprefix("models:/"))
    assert model.source_run_id == version.tracking.run_id  # the MLmodel itself names no run:
    # it is the registered bundle's, byte for byte (the digest stays reproducible)


def test_models_show_links_the_run(built: dict[str, Any]) -> None:
    version: ModelVersion = built["version"]
    assert version.tracking is not None
    text = built["models_show"].replace("\n", "")
    assert version.tracking.run_id in text
    assert version.tracking.model_uri in text


def test_pyfunc_on_the_registered_artifact_predicts_what_the_server_answers(
    built: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    version: ModelVersion = built["version"]
    bundle_dir = Path(version.artifact_uri)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    loaded = mlflow.pyfunc.load_model(str(bundle_dir))
    store = built["repo"].open_store()
    trips = pd.read_parquet(built["repo"].path / "data" / "trips.parquet").iloc[::20]
    keys = trips[["driver_id", "customer_id", "event_timestamp", "trip_distance_km"]].copy()
    keys["row"] = range(len(keys))
    features = (
        store.get_historical_features(
            entity_df=keys, features=store.get_feature_service(version.feature_service)
        )
        .to_df()
        .sort_values("row")
        .reset_index(drop=True)
    )
    client = TestClient(create_inference_app(bundle_dir=bundle_dir))
    inputs = features[client.get("/metadata").json()["features"]]
    records = [
        {k: None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in inputs.to_dict(orient="records")
    ]  # exact floats (to_json would round them)
    served = client.post("/invocations", json={"instances": records})
    assert served.status_code == 200, served.text
    answered = [p["probability"] for p in served.json()["predictions"]]
    assert len(answered) == len(keys) >= 250
    with pytest.raises(MlflowException, match="Can not safely convert int64 to float64"):
        loaded.predict(inputs)  # Feast's Int64 features: MLflow refuses int64 -> double
    schema = {c["name"]: c["type"] for c in loaded.metadata.get_input_schema().to_dict()}
    typed = inputs.astype({k: "float64" for k, t in schema.items() if t == "double"})
    predicted = np.asarray(loaded.predict(typed))[:, 1]
    np.testing.assert_allclose(predicted, answered, rtol=0, atol=1e-12)
