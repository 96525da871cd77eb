"""The inference server as a real process: ``python -m services.inference`` on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from foundation.ports import free_port
from model_bundle.bundle import ModelBundle, bundle_digest, pack_bundle, save_bundle

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 40.0
NUMERIC = ["conv_rate", "acc_rate", "avg_daily_trips", "rating", "cancel_rate", "trip_distance_km"]
FEATURES = [*NUMERIC, "customer_segment"]


def _frame(rows: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.uniform(0, 5, rows) for name in NUMERIC})
    frame["avg_daily_trips"] = rng.integers(0, 40, rows)
    frame["customer_segment"] = rng.choice(["standard", "plus", "business"], rows)
    return frame[FEATURES]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = _frame(300, seed=1)
    label = (frame["conv_rate"] + (frame["customer_segment"] == "plus") > 2.8).astype(int)
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["customer_segment"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, label)
    directory = tmp_path_factory.mktemp("bundle")
    save_bundle(ModelBundle(estimator=model, features=FEATURES), directory=directory)
    return directory, model


@contextmanager
def _server(
    args: list[str], *, port: int, logs: Path, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Start the server, wait (bounded) for /ping, yield its base URL, always stop it."""
    base = f"http://127.0.0.1:{port}"
    with logs.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.inference", *args],
            cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"server exited with {proc.returncode}:\n{logs.read_text()}")
                try:
                    if httpx.get(f"{base}/ping", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"no /ping answer within {STARTUP_TIMEOUT_S}s:\n{logs.read_text()}")
                time.sleep(0.1)
            yield base
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status reports it
    assert proc.returncode in (0, -signal.SIGTERM), logs.read_text()
    assert "Application shutdown complete" in logs.read_text()


def test_local_process_serves_json_and_csv(bundle: tuple[Path, Any], tmp_path: Path) -> None:
    directory, model = bundle
    port = free_port()
    frame = _frame(20, seed=2)
    expected = model.predict_proba(frame)[:, 1]
    args = ["--bundle", str(directory), "--host", "127.0.0.1", "--port", str(port)]
    with (
        _server(
            [*args, "--model-ref", "driver_ranking:1"], port=port, logs=tmp_path / "log"
        ) as base,
        httpx.Client(base_url=base, timeout=10.0) as client,
    ):
        rows = [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")
        ]
        answer = client.post("/invocations", json={"instances": rows})
        assert answer.status_code == 200
        body = answer.json()
        assert body["model"] == {
            "ref": "driver_ranking:1",
            "digest": bundle_digest(directory=directory),
        }
        got = np.array([p["probability"] for p in body["predictions"]])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)

        csv = client.post(
            "/invocations",
            content=frame.to_csv(header=False, index=False),
            headers={"content-type": "text/csv"},
        )
        assert csv.status_code == 200
        assert csv.headers["content-type"].startswith("text/csv")
        lines = [line.split(",") for line in csv.text.splitlines()]
        np.testing.assert_allclose([float(p) for p, _ in lines], expected, rtol=0, atol=1e-12)
        assert [int(label) for _, label in lines] == [int(p >= 0.5) for p in expected]

        refused = client.post("/invocations", json={"instances": [{"conv_rate": 1.0}]})
        assert refused.status_code == 422
        assert "acc_rate" in refused.json()["message"]


def test_sagemaker_serve_mode_unpacks_model_tar(bundle: tuple[Path, Any], tmp_path: Path) -> None:
    directory, _ = bundle
    model_dir = tmp_path / "opt_ml_model"
    pack_bundle(directory=directory, archive=model_dir / "model.tar.gz")
    port = free_port()
    args = ["serve", "--bundle", str(model_dir), "--host", "127.0.0.1"]
    env = {"SAGEMAKER_BIND_TO_PORT": str(port), "SLIPWAY_MODEL_REF": "driver_ranking:2"}
    with _server(args, port=port, logs=tmp_path / "log", env=env) as base:
        meta = httpx.get(f"{base}/metadata", timeout=10.0).json()
        assert meta["features"] == FEATURES
        assert meta["model"]["ref"] == "driver_ranking:2"
        assert meta["model"]["digest"] == bundle_digest(directory=directory)


def test_local_process_captures_requests_for_monitoring(
    bundle: tuple[Path, Any], tmp_path: Path
) -> None:
    from model_monitor.baseline import build_baseline
    from model_monitor.columns import INFERENCE_ID, PREDICTION
    from model_monitor.frame import load_window
    from model_monitor.reader import capture_files
    from model_monitor.report import COMPLETED, MonitorConfig, run_monitor

    directory, model = bundle
    port = free_port()
    capture = tmp_path / "capture"
    args = ["--bundle", str(directory), "--host", "127.0.0.1", "--port", str(port)]
    args += ["--capture-dir", str(capture), "--endpoint-name", "drivers"]
    frame = _frame(200, seed=3)
    rows = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    with (
        _server(args, port=port, logs=tmp_path / "log") as base,
        httpx.Client(base_url=base, timeout=10.0) as client,
    ):
        for i in range(0, 150, 5):
            answer = client.post(
                "/invocations",
                json={"instances": rows[i : i + 5]},
                headers={"X-Amzn-SageMaker-Inference-Id": f"req-{i}"},
            )
            assert answer.status_code == 200
        csv = frame.iloc[150:].to_csv(header=False, index=False)
        answer = client.post("/invocations", content=csv, headers={"content-type": "text/csv"})
        assert answer.status_code == 200
        assert client.get("/metadata").json()["capture"]["enabled"] is True
    # the server has stopped: its writer flushed and closed the files
    files = capture_files(destination=capture, endpoint="drivers", variant="AllTraffic")
    assert files
    training = _frame(3000, seed=4)
    scores = model.predict_proba(training)[:, 1]
    baseline = build_baseline(
        features=training, prediction=scores, predicted_label=(scores >= 0.5).astype(int)
    )
    window = load_window(files=files, schema=baseline.schema)
    assert window.warnings() == []
    assert (window.requests, window.rows) == (31, 200)
    assert window.frame[INFERENCE_ID].iloc[:150].tolist() == [
        f"req-{i}" for i in range(0, 150, 5) for _ in range(5)
    ]
    np.testing.assert_allclose(
        window.frame[PREDICTION].to_numpy(), model.predict_proba(frame)[:, 1], rtol=0, atol=1e-12
    )
    result = run_monitor(
        window=window,
        baseline=baseline,
        out_dir=tmp_path / "run",
        config=MonitorConfig(evidently_html=False),
    )
    assert result.status == COMPLETED, result.violations
