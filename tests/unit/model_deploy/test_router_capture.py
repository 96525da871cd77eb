"""The local router's data capture: SageMaker's record and layout, sampling, off the request path.

A router (:class:`_RouterServer`, in process, on 127.0.0.1) in front of a tiny backend; the
files it writes are read back with ``model_monitor``'s reader and ``load_window``, and its
records are compared key for key with SageMaker's documented sample record.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from model_deploy.targets.local_capture import (
    CAPTURE_VARIANT,
    INFERENCE_ID_HEADER,
    CaptureSink,
    CaptureTarget,
    capture_line,
    capture_record,
)
from model_deploy.targets.local_router import Routes, _RouterServer
from model_deploy.targets.local_state import EnvFiles, write_routes
from model_monitor.capture import DEFAULT_VARIANT, CapturedPayload, CaptureRecord
from model_monitor.frame import load_window
from model_monitor.reader import ReadReport, capture_files, iter_records

# SageMaker's documented sample record (tests/unit/model_monitor/monitor_kit.py SAGEMAKER_SAMPLE).
SAGEMAKER_SAMPLE = (
    b'{"captureData": {'
    b'"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", '
    b'"data": "69,0,153.7,109,194.0", "encoding": "CSV"}, '
    b'"endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", '
    b'"data": "0.0254", "encoding": "CSV"}}, '
    b'"eventMetadata": {"eventId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", '
    b'"inferenceId": "caller-1", "inferenceTime": "2022-02-14T17:25:49Z"}, '
    b'"eventVersion": "0"}'
)
ENDPOINT = "dev-driver_ranking"
ANSWER = b'{"predictions": [{"probability": 0.25, "label": 0}]}'


def _shape(doc: object) -> object:
    """The keys of a JSON document, recursively (values dropped)."""
    if isinstance(doc, dict):
        return {k: _shape(v) for k, v in doc.items()}
    return type(doc).__name__


class _Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(ANSWER)}"
        self.wfile.write(head.encode() + b"\r\n\r\n" + ANSWER)  # one write: no delayed ACK


class _Stack:
    """A backend and a router over one environment folder."""

    def __init__(self, root: Path, *, percentage: int, rng: random.Random | None = None) -> None:
        self.files = EnvFiles(root / "dev" / "driver_ranking")
        self.files.root.mkdir(parents=True)
        self.backend = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
        self.backend.daemon_threads = True
        port = self.backend.server_address[1]
        write_routes(self.files, generation=1, weights={port: 100}, capture_percentage=percentage)
        self.messages: list[str] = []
        self.sink = CaptureSink(log=self.messages.append, rng=rng)
        self.router = _RouterServer(0, Routes(self.files.routes), sink=self.sink)
        self.port = self.router.server_address[1]
        self.threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for s in (self.backend, self.router)
        ]
        for thread in self.threads:
            thread.start()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def post(self, body: bytes, *, headers: dict[str, str] | None = None) -> int:
        heads = {"Content-Type": "application/json", **(headers or {})}
        self.connection.request("POST", "/invocations", body=body, headers=heads)
        response = self.connection.getresponse()
        response.read()
        return response.status

    def status(self) -> dict[str, Any]:
        self.connection.request("GET", "/_router/status")
        answer: dict[str, Any] = json.loads(self.connection.getresponse().read())
        return answer

    def files_written(self) -> list[Path]:
        assert self.sink.flush(timeout=10)
        return capture_files(
            destination=self.files.capture, endpoint=ENDPOINT, variant=DEFAULT_VARIANT
        )

    def close(self) -> None:
        self.connection.close()
        for server in (self.router, self.backend):
            server.shutdown()
            server.server_close()


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[_Stack]:
    """A router capturing ``request.param`` percent (indirect parametrization; default 100)."""
    percentage = getattr(request, "param", 100)
    made = _Stack(tmp_path, percentage=percentage, rng=random.Random(7))
    try:
        yield made
    finally:
        made.close()


def _body(i: int) -> bytes:
    return json.dumps({"instances": [{"x": float(i), "city": "Paris"}]}).encode()


def test_a_record_has_the_documented_shape_key_for_key() -> None:
    sample = orjson.loads(SAGEMAKER_SAMPLE)
    at = datetime(2022, 2, 14, 17, 25, 49, 700_000, tzinfo=UTC).timestamp()
    line = capture_line(
        at=at, request=b"69,0,153.7,109,194.0", request_type="text/csv", response=b"0.0254",
        response_type="text/csv; charset=utf-8", inference_id="caller-1",
        event_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    )  # fmt: skip
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    written = orjson.loads(line)
    assert _shape(written) == _shape(sample)
    assert written == sample
    assert CaptureRecord.decode(line) == CaptureRecord.decode(SAGEMAKER_SAMPLE)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"a": 1}', "application/json"),
        (b'{"a": 1}', "application/json; charset=utf-8"),
        (b'{"a": 1}', "application/vnd.x+json"),
        (b'{"a": 1}\n', "application/jsonlines"),
        (b"1,2,3", "text/csv"),
        (b"1,2,3", "application/csv"),
        ("é,2".encode(), "text/csv"),
        (b"\xff\xfe", "application/json"),
        (b"\x00\x01binary", "application/octet-stream"),
        (b"plain", ""),
    ],
)
def test_each_side_is_encoded_as_model_monitor_encodes_it(body: bytes, content_type: str) -> None:
    record = capture_record(
        at=0.0, request=body, request_type=content_type, response=body, response_type=content_type
    )
    sides = record["captureData"]
    assert (
        sides["endpointInput"]
        == CapturedPayload.from_body(body, content_type=content_type, mode="INPUT").to_json()
    )
    assert (
        sides["endpointOutput"]
        == CapturedPayload.from_body(body, content_type=content_type, mode="OUTPUT").to_json()
    )
    assert "inferenceId" not in record["eventMetadata"]
    assert record["eventMetadata"]["inferenceTime"] == "1970-01-01T00:00:00Z"


def test_the_routes_name_the_layout_monitor_reads(tmp_path: Path) -> None:
    files = EnvFiles(tmp_path / "dev" / "driver_ranking")
    files.root.mkdir(parents=True)
    write_routes(files, generation=3, weights={9: 100}, capture_percentage=20)
    capture = json.loads(files.routes.read_text())["capture"]
    assert capture == {
        "percentage": 20,
        "destination": str(tmp_path / "dev" / "driver_ranking" / "capture"),
        "endpoint": ENDPOINT,
        "variant": CAPTURE_VARIANT,
    }
    assert CAPTURE_VARIANT == DEFAULT_VARIANT


def test_every_request_is_captured_and_reads_back_with_the_inference_id(stack: _Stack) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    for i in range(20):
        headers = {INFERENCE_ID_HEADER: f"req-{i}"} if i % 2 == 0 else {}
        assert stack.post(_body(i), headers=headers) == 200
    files = stack.files_written()
    assert files, "no capture file"
    relative = files[0].relative_to(stack.files.capture).parts
    assert relative[:2] == (ENDPOINT, "AllTraffic")
    hour = datetime.strptime("/".join(relative[2:6]), "%Y/%m/%d/%H").replace(tzinfo=UTC)
    assert before.replace(minute=0, second=0) <= hour <= datetime.now(UTC)
    report = ReadReport()
    records = list(iter_records(files=files, report=report))
    assert report.warnings() == []
    assert len(records) == 20
    assert [r.inference_id for r in records] == [f"req-{i}" if i % 2 == 0 else None
                                                 for i in range(20)]  # fmt: skip
    assert len({r.event_id for r in records}) == 20
    first = records[0]
    assert first.endpoint_input is not None
    assert first.endpoint_output is not None
    assert first.endpoint_input.text() == _body(0).decode()
    assert first.endpoint_output.body() == ANSWER
    assert first.endpoint_output.observed_content_type == "application/json"
    assert before <= first.inference_time <= datetime.now(UTC)
    window = load_window(
        files=files,
        schema=None,
        since=before,
        until=datetime.now(UTC) + timedelta(seconds=2),
    )
    assert window.requests == 20
    assert len(window.frame) == 20
    assert window.bad_inputs == 0
    assert window.bad_outputs == 0
    assert sorted(window.frame["x"].tolist()) == [float(i) for i in range(20)]
    assert stack.status()["capture"] == {
        "percentage": 100.0, "queued": 20, "written": 20, "dropped": 0, "failed": 0, "pending": 0,
    }  # fmt: skip


@pytest.mark.parametrize("stack", [0], indirect=True)
def test_zero_percent_writes_nothing(stack: _Stack) -> None:
    for i in range(20):
        assert stack.post(_body(i)) == 200
    assert stack.files_written() == []
    assert not stack.files.capture.exists()


@pytest.mark.parametrize("stack", [50], indirect=True)
def test_fifty_percent_writes_about_half(stack: _Stack) -> None:
    for i in range(400):
        assert stack.post(_body(i)) == 200
    records = list(iter_records(files=stack.files_written()))
    assert 160 <= len(records) <= 240  # seeded draw; binomial(400, 0.5) +-4 sd


def test_requests_the_router_refuses_are_not_captured(tmp_path: Path) -> None:
    files = EnvFiles(tmp_path / "dev" / "m")
    files.root.mkdir(parents=True)
    write_routes(files, generation=1, weights={}, capture_percentage=100)
    sink = CaptureSink(log=lambda _: None)
    router = _RouterServer(0, Routes(files.routes), sink=sink)
    thread = threading.Thread(target=router.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", router.server_address[1], timeout=5)
        connection.request("POST", "/invocations", body=b"{}")
        assert connection.getresponse().status == 503
        connection.close()
    finally:
        router.shutdown()
        router.server_close()
    assert sink.flush()
    assert sink.status()["queued"] == 0
    assert not files.capture.exists()


def test_an_unwritable_capture_folder_never_fails_a_prediction(stack: _Stack) -> None:
    # A file where the capture folder should be: no folder can be made, even as root (a
    # read-only folder only stops other users).
    stack.files.capture.write_text("not a folder")
    for i in range(30):
        assert stack.post(_body(i)) == 200
    assert stack.sink.flush(timeout=10)
    capture = stack.status()["capture"]
    assert capture["failed"] == 30
    assert capture["written"] == 0
    assert len(stack.messages) == 1
    assert "capture write failed" in stack.messages[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_capture_folder_never_fails_a_prediction(stack: _Stack) -> None:
    stack.files.capture.mkdir()
    stack.files.capture.chmod(0o500)
    try:
        for i in range(30):
            assert stack.post(_body(i)) == 200
        assert stack.sink.flush(timeout=10)
        capture = stack.status()["capture"]
    finally:
        stack.files.capture.chmod(0o700)
    assert capture["failed"] == 30
    assert capture["written"] == 0


def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    files = EnvFiles(tmp_path / "dev" / "m")
    sink = CaptureSink(log=lambda _: None, max_queue=1)
    target = CaptureTarget(100.0, files.capture, "dev-m", CAPTURE_VARIANT)
    fields = {"request": b"{}", "request_type": "application/json", "response": b"{}",
              "response_type": "application/json", "inference_id": None}  # fmt: skip
    offered = [sink.offer(target, at=time.time(), **fields) for _ in range(500)]
    assert sink.flush()
    status = sink.status()
    assert status["dropped"] == offered.count(False) > 0
    assert status["written"] == status["queued"] == offered.count(True)


def test_base64_request_bodies_round_trip(stack: _Stack) -> None:
    blob = bytes(range(256))
    assert stack.post(blob, headers={"Content-Type": "application/x-npy"}) == 200
    (record,) = iter_records(files=stack.files_written())
    assert record.endpoint_input is not None
    assert record.endpoint_input.to_json()["encoding"] == "BASE64"
    assert base64.b64decode(record.endpoint_input.data) == blob
