"""Every build is an MLflow run: params, metrics, tags, artifacts and the bundle as its model.

Runs go to a SQLite store copied from one migrated once per session (the first connection
runs MLflow's migrations, ~3 s); everything is read back through ``MlflowClient``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from build_kits import definition_doc, training_set, write_model
from fastapi.testclient import TestClient
from registry_fakes import InMemoryRegistry

from foundation.errors import SettingsError
from foundation.ports import free_port
from model_build.definition.loader import load_definition
from model_build.errors import GateFailedError, PipelineError, TrackingError
from model_build.pipeline.local_runner import BuildResult, run_training_set
from model_build.pipeline.steps.gate import NoServingModel
from model_build.registry.local import LocalRegistry
from model_build.settings import BuildSettings, load_settings
from model_build.tracking.mlflow_tracker import MlflowTracker
from model_build.tracking.record import flatten
from model_build.tracking.store import TrackingStore, open_tracker, resolve_store
from services.inference.server import create_inference_app
from slipway.cli.app import run as slipway

pytestmark = pytest.mark.slow

COMMIT = "1234567890abcdef1234567890abcdef12345678"
NONE = NoServingModel(reason="no serving version in this test")
ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/slipway"


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its migrations applied (copied by every test)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracker(migrated_db: Path, tmp_path: Path) -> MlflowTracker:
    folder = tmp_path / "tracking"
    folder.mkdir()
    shutil.copyfile(migrated_db, folder / "mlflow.db")
    settings = load_settings(registry_path=tmp_path / "registry")
    store = resolve_store(settings)
    assert store.uri == f"sqlite:///{(folder / 'mlflow.db').resolve()}"
    tracked = open_tracker(settings)
    assert isinstance(tracked, MlflowTracker)
    return tracked


@pytest.fixture
def allow_pickles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


def _build(
    root: Path, tracker: MlflowTracker, registry: Any, *, task: str = "binary", **doc: Any
) -> BuildResult:
    document = definition_doc(task)
    for section, values in doc.items():
        document[section] = values
    definition = load_definition(path=write_model(root / "models", document))
    return run_training_set(
        definition=definition,
        training_set=training_set(task),
        registry=registry,
        run_dir=root / "runs",
        serving=NONE,
        git_commit=COMMIT,
        tracker=tracker,
    )


# --- failure paths -----------------------------------------------------------------------------


def test_a_file_store_and_a_foreign_arn_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLIPWAY_TRACKING_URI", "file:///tmp/mlruns")
    with pytest.raises(SettingsError, match=r"SLIPWAY_TRACKING_URI: .*refuses file stores"):
        load_settings()
    monkeypatch.setenv("SLIPWAY_TRACKING_URI", "arn:aws:s3:::bucket")
    with pytest.raises(SettingsError, match=r"SLIPWAY_TRACKING_URI: .*MLflow tracking server"):
        load_settings()


def test_an_unreachable_store_fails_the_build_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = TrackingStore(uri=uri, artifact_root=None, ui_url=uri)
    with pytest.raises(TrackingError, match=f"tracking store {uri}: experiment toy_binary"):
        _build(tmp_path, MlflowTracker(store=store), InMemoryRegistry())


def test_blocked_and_failed_runs_are_tracked_too(tmp_path: Path, tracker: MlflowTracker) -> None:
    gate = {"thresholds": {"roc_auc": 0.999}}
    with pytest.raises(GateFailedError):
        _build(tmp_path / "blocked", tracker, InMemoryRegistry(), gate=gate)
    bias = {"attribute": "no_such_column", "facet": ["x"]}
    with pytest.raises(PipelineError, match="no_such_column"):
        _build(tmp_path / "failed", tracker, InMemoryRegistry(), bias=bias)
    runs = tracker.client.search_runs(
        [tracker.experiment_id("toy_binary")], order_by=["attributes.start_time ASC"]
    )
    assert [r.data.tags["slipway.status"] for r in runs] == ["blocked", "failed"]
    assert [r.info.status for r in runs] == ["FAILED", "FAILED"]
    assert "roc_auc" in runs[0].data.metrics
    assert "no_such_column" in runs[1].data.tags["slipway.error"]


def test_a_sagemaker_tracking_server_arn_is_passed_to_the_plugin() -> None:
    settings = BuildSettings(tracking_uri=ARN)
    store = resolve_store(settings)
    assert (store.uri, store.artifact_root, store.ui_url) == (ARN, None, "")
    tracked = open_tracker(settings)
    assert isinstance(tracked, MlflowTracker)
    assert tracked.uri == ARN
    from mlflow.tracking._tracking_service.utils import _get_store

    backend = _get_store(ARN)  # resolved by the sagemaker-mlflow plugin; no request is made
    assert type(backend).__module__.startswith("sagemaker_mlflow")
    assert open_tracker(BuildSettings(tracking=False)).uri == ""


# --- the tracked run ---------------------------------------------------------------------------


def test_a_build_is_an_mlflow_run_with_everything_and_the_version_links_it(
    tmp_path: Path, tracker: MlflowTracker, allow_pickles: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc
    from mlflow.models import get_model_info

    registry = LocalRegistry(tmp_path / "registry")
    result = _build(tmp_path, tracker, registry)
    link = result.tracking
    assert link is not None
    assert result.version is not None
    assert result.version.tracking == link
    assert registry.get(model_name="toy_binary", version=1).tracking == link
    client = tracker.client
    run = client.get_run(link.run_id)
    assert run.info.run_name == result.run_id
    assert run.info.status == "FINISHED"
    definition = load_definition(path=tmp_path / "models" / "toy_binary")
    assert run.data.params == flatten(definition.model_dump(mode="json"))
    assert run.data.params["train.seed"] == "7"
    assert {k: run.data.metrics[k] for k in result.metrics} == result.metrics
    assert run.data.metrics["holdout_rows"] > 0
    assert run.data.metrics["seconds.train"] >= 0
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == COMMIT
    assert tags["slipway.data_hash"] == result.data_hash
    assert tags["slipway.feature_service"] == "toy_v1"
    assert tags["slipway.model_name"] == "toy_binary"
    assert tags["slipway.slipway_version"]
    assert (tags["slipway.status"], tags["slipway.registered"]) == ("registered", "toy_binary:1")
    artifacts = {a.path for a in client.list_artifacts(link.run_id)}
    assert {"evaluation.json", "gate.json", "training_set.json", "plots", "explanations"} <= (
        artifacts
    )
    explained = {a.path for a in client.list_artifacts(link.run_id, "explanations")}
    assert "explanations/shap_importance.png" in explained
    assert "baseline" in artifacts  # the monitoring baseline, as registered with the version
    baseline = {a.path for a in client.list_artifacts(link.run_id, "baseline")}
    names = ("statistics.json", "constraints.json", "baseline.json", "reference.parquet")
    assert baseline == {f"baseline/{name}" for name in names}
    logged_stats = Path(client.download_artifacts(link.run_id, "baseline/statistics.json"))
    kept = registry.fetch_baseline(model_name="toy_binary", version=1, directory=tmp_path / "b")
    assert kept is not None
    assert logged_stats.read_bytes() == (kept / "statistics.json").read_bytes()
    experiment = client.get_experiment(link.experiment_id)
    artifact_root = (tmp_path / "tracking" / "artifacts" / "toy_binary").resolve()
    assert experiment.artifact_location == artifact_root.as_uri()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", link.tracking_uri)  # models:/ URIs resolve there
    info = get_model_info(link.model_uri)
    assert info.signature is not None
    assert info.saved_input_example_info is not None
    logged = mlflow.pyfunc.load_model(link.model_uri)
    bundle_dir = Path(result.version.artifact_uri)
    example = json.loads((bundle_dir / "input_example.json").read_text())
    import pandas as pd

    rows = pd.DataFrame(example["data"], columns=example["columns"])
    served = TestClient(create_inference_app(bundle_dir=bundle_dir)).post(
        "/invocations", json={"instances": rows.to_dict(orient="records")}
    )
    assert served.status_code == 200, served.text
    answered = [p["probability"] for p in served.json()["predictions"]]
    predicted = np.asarray(logged.predict(rows))[:, 1]
    np.testing.assert_allclose(predicted, answered, rtol=0, atol=1e-12)


def test_runs_list_show_compare_and_models_show_link_the_run(
    tmp_path: Path, tracker: MlflowTracker, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    first = _build(tmp_path / "one", tracker, registry)
    second = _build(tmp_path / "two", tracker, registry, evaluate={"calibration_bins": 5})
    assert first.tracking is not None
    assert second.tracking is not None
    where = ["--registry-path", str(tmp_path / "registry")]
    assert slipway(["runs", "list", "toy_binary", *where, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in listed] == [second.tracking.run_id, first.tracking.run_id]
    assert listed[0]["registered"] == "toy_binary:2"
    assert slipway(["runs", "show", first.run_id, *where, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["summary"]["run_id"] == first.tracking.run_id
    assert "evaluation.json" in shown["artifacts"]
    assert shown["models"] == [first.tracking.model_uri]
    args = ["runs", "compare", first.run_id, second.tracking.run_id, *where, "--format", "json"]
    assert slipway(args) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["param_changes"]["evaluate.calibration_bins"] == {"a": "10", "b": "5"}
    assert slipway(["runs", "show", "no-such-run", *where]) == 1
    assert "no run named 'no-such-run'" in capsys.readouterr().err
    assert slipway(["models", "show", "toy_binary:1", *where]) == 0
    text = capsys.readouterr().out
    assert first.tracking.run_id in text
    assert first.tracking.run_url in text.replace("\n", "") or "run page" in text
