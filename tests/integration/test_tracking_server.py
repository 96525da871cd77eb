"""A remote MLflow tracking server through one setting: ``SLIPWAY_TRACKING_URI=http://...``.

A real ``mlflow server`` (127.0.0.1, its own SQLite store and served artifacts in a temporary
folder) receives a build run: parameters, metrics, artifacts and the logged model, read back
over HTTP through ``MlflowClient``; the registered version links the server's run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from foundation.ports import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "model_build" / "pipeline"))
from build_kits import definition_doc, training_set, write_model

from model_build.definition.loader import load_definition
from model_build.pipeline.local_runner import run_training_set
from model_build.pipeline.steps.gate import NoServingModel
from model_build.registry.local import LocalRegistry
from model_build.settings import load_settings
from model_build.tracking.mlflow_tracker import MlflowTracker
from model_build.tracking.record import flatten
from model_build.tracking.store import open_tracker

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` on a free loopback port; stopped afterwards."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
    ]  # fmt: skip
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (folder / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def _files(client: object, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for entry in client.list_artifacts(run_id, path):  # type: ignore[attr-defined]
        found |= _files(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


def test_a_build_tracked_on_a_remote_server_by_one_setting(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("SLIPWAY_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    settings = load_settings(registry_path=tmp_path / "registry")
    tracker = open_tracker(settings)
    assert isinstance(tracker, MlflowTracker)
    assert (tracker.uri, tracker.store.artifact_root) == (server, None)
    registry = LocalRegistry(tmp_path / "registry")
    document = definition_doc("binary")
    definition = load_definition(path=write_model(tmp_path / "models", document))
    result = run_training_set(
        definition=definition, training_set=training_set("binary"), registry=registry,
        run_dir=tmp_path / "runs", serving=NoServingModel(reason="test"),
        git_commit="0" * 40, tracker=tracker,
    )  # fmt: skip
    link = result.tracking
    assert link is not None
    assert result.version is not None
    assert (link.tracking_uri, link.run_url.split("/#/")[0]) == (server, server)
    assert registry.get(model_name="toy_binary", version=1).tracking == link
    client = MlflowClient(tracking_uri=server)  # a fresh client: everything over HTTP
    run = client.get_run(link.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == flatten(definition.model_dump(mode="json"))
    assert {k: run.data.metrics[k] for k in result.metrics} == result.metrics
    assert run.data.tags["mlflow.source.git.commit"] == "0" * 40
    files = _files(client, link.run_id)
    assert {"evaluation.json", "gate.json", "training_set.json"} <= files
    assert "explanations/shap_importance.png" in files
    model = client.get_logged_model(link.model_uri.removeprefix("models:/"))
    assert model.source_run_id == link.run_id
    assert not any(tmp_path.rglob("mlruns"))  # nothing written locally by MLflow
