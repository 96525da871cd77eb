"""Data capture in the inference app: records on disk, inference ids, failures stay invisible."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from inference_bundles import FEATURES, make_frame, records

from model_monitor.capture import CaptureRecord
from model_monitor.reader import ReadReport, capture_files, iter_records
from model_monitor.writer import CaptureWriter
from services.inference import runner
from services.inference.runner import capture_writer, main
from services.inference.server import create_inference_app
from services.inference.settings import CaptureSettings


def _captured(
    root: Path, *, endpoint: str = "ep", variant: str = "AllTraffic"
) -> list[CaptureRecord]:
    report = ReadReport()
    files = capture_files(destination=root, endpoint=endpoint, variant=variant)
    found = list(iter_records(files=files, report=report))
    assert report.warnings() == []
    return found


def _app(bundle_dir: Path, writer: CaptureWriter) -> Any:
    return create_inference_app(bundle_dir=bundle_dir, capture=writer)


def test_a_capture_that_cannot_write_never_fails_a_prediction(
    bundle_dir: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the capture folder should be")
    writer = CaptureWriter(destination=blocker, endpoint="ep")
    body = {"instances": records(make_frame(2, seed=1))}
    with TestClient(_app(bundle_dir, writer)) as client:
        for _ in range(3):
            assert client.post("/invocations", json=body).status_code == 200
        assert writer.flush()
        stats = client.get("/metadata").json()["capture"]["stats"]
    assert stats["failed"] == 3
    assert stats["written"] == 0


def test_refused_requests_are_not_captured(bundle_dir: Path, tmp_path: Path) -> None:
    writer = CaptureWriter(destination=tmp_path, endpoint="ep")
    with TestClient(_app(bundle_dir, writer)) as client:
        assert client.post("/invocations", json={"instances": []}).status_code == 422
        assert (
            client.post(
                "/invocations", content=b"{", headers={"content-type": "application/json"}
            ).status_code
            == 400
        )
    assert writer.stats().submitted == 0
    assert _captured(tmp_path) == []


def test_sampling_zero_captures_nothing(bundle_dir: Path, tmp_path: Path) -> None:
    writer = CaptureWriter(destination=tmp_path, endpoint="ep", sampling_percentage=0)
    with TestClient(_app(bundle_dir, writer)) as client:
        for _ in range(5):
            assert (
                client.post(
                    "/invocations", json={"instances": records(make_frame(1, seed=2))}
                ).status_code
                == 200
            )
    stats = writer.stats()
    assert (stats.submitted, stats.sampled_out, stats.written) == (5, 5, 0)
    assert _captured(tmp_path) == []


def test_json_request_is_captured_with_the_callers_inference_id(
    bundle_dir: Path, tmp_path: Path
) -> None:
    writer = CaptureWriter(destination=tmp_path, endpoint="ep")
    body = orjson.dumps({"instances": records(make_frame(3, seed=3))})
    with TestClient(_app(bundle_dir, writer)) as client:
        answer = client.post(
            "/invocations",
            content=body,
            headers={"content-type": "application/json", "X-Amzn-SageMaker-Inference-Id": "req-42"},
        )
        plain = client.post(
            "/invocations", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == plain.status_code == 200
    first, second = _captured(tmp_path)
    assert first.inference_id == "req-42"
    assert second.inference_id is None
    assert first.event_id != second.event_id
    assert first.endpoint_input is not None
    assert first.endpoint_output is not None
    assert first.endpoint_input.encoding == "JSON"
    assert first.endpoint_input.body() == body
    assert first.endpoint_input.mode == "INPUT"
    assert first.endpoint_output.body() == answer.content
    assert first.endpoint_output.mode == "OUTPUT"
    assert first.endpoint_output.observed_content_type == "application/json"


def test_csv_request_is_captured_as_csv(bundle_dir: Path, tmp_path: Path) -> None:
    writer = CaptureWriter(destination=tmp_path, endpoint="ep", variant="blue")
    text = make_frame(2, seed=4)[FEATURES].to_csv(header=False, index=False)
    with TestClient(_app(bundle_dir, writer)) as client:
        answer = client.post("/invocations", content=text, headers={"content-type": "text/csv"})
    assert answer.status_code == 200
    (record,) = _captured(tmp_path, variant="blue")
    assert record.endpoint_input is not None
    assert record.endpoint_output is not None
    assert (record.endpoint_input.encoding, record.endpoint_input.data) == ("CSV", text)
    assert record.endpoint_output.encoding == "CSV"
    assert record.endpoint_output.text() == answer.text


def test_shutdown_flushes_and_closes_the_writer(bundle_dir: Path, tmp_path: Path) -> None:
    writer = CaptureWriter(destination=tmp_path, endpoint="ep", rng=random.Random(0))
    with TestClient(_app(bundle_dir, writer)) as client:
        for _ in range(20):
            client.post("/invocations", json={"instances": records(make_frame(1, seed=5))})
    stats = writer.stats()
    assert (stats.written, stats.pending, stats.dropped) == (20, 0, 0)
    assert not writer.capture(
        input_body=b"{}",
        input_type="application/json",
        output_body=b"{}",
        output_type="application/json",
    )
    assert writer.stats().dropped == 1  # closed: counted, not raised
    assert len(_captured(tmp_path)) == 20


def test_metadata_says_whether_capture_is_on(client: TestClient) -> None:
    assert client.get("/metadata").json()["capture"] == {"enabled": False}


# --- runner -----------------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(runner, "serve_model", lambda **kwargs: calls.append(kwargs))
    return calls


def test_bad_capture_percent_is_named(
    bundle_dir: Path, monkeypatch: pytest.MonkeyPatch, served: list[dict[str, Any]], capsys: Any
) -> None:
    monkeypatch.setenv("SLIPWAY_CAPTURE_PERCENT", "150")
    assert main(["--bundle", str(bundle_dir), "--capture-dir", "/tmp/x"], env={}) == 1
    assert "SLIPWAY_CAPTURE_PERCENT" in capsys.readouterr().err
    assert served == []


def test_capture_is_off_by_default(bundle_dir: Path, served: list[dict[str, Any]]) -> None:
    assert main(["--bundle", str(bundle_dir)], env={}) == 0
    assert served[0]["capture"] is None


def test_capture_flags_win_over_the_environment(
    bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("SLIPWAY_CAPTURE_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("SLIPWAY_CAPTURE_PERCENT", "10")
    monkeypatch.setenv("SLIPWAY_CAPTURE_VARIANT_NAME", "green")
    argv = ["--bundle", str(bundle_dir), "--capture-dir", str(tmp_path / "flag")]
    argv += ["--capture-percent", "55", "--endpoint-name", "drivers"]
    assert main(argv, env={}) == 0
    settings = served[0]["capture"]
    assert isinstance(settings, CaptureSettings)
    assert (settings.dir, settings.percent) == (tmp_path / "flag", 55.0)
    assert (settings.endpoint_name, settings.variant_name) == ("drivers", "green")


def test_capture_writer_follows_the_settings(tmp_path: Path) -> None:
    assert capture_writer(None) is None
    assert capture_writer(CaptureSettings(dir=None)) is None
    writer = capture_writer(
        CaptureSettings(dir=tmp_path, percent=25, endpoint_name="e", variant_name="v")
    )
    assert writer is not None
    try:
        assert writer.root == tmp_path / "e" / "v"
        assert writer.sampling_percentage == 25.0
    finally:
        writer.close()
