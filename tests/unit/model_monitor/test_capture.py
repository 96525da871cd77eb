"""The capture record format: SageMaker's documented sample, encoding, layout, bad records."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from monitor_kit import SAGEMAKER_SAMPLE

from model_monitor.capture import (
    CapturedPayload,
    CaptureRecord,
    Encoding,
    file_name,
    format_time,
    hour_folder,
    parse_time,
    variant_folder,
)
from model_monitor.errors import CaptureError


def _shape(doc: object) -> object:
    """The keys of a JSON document, recursively (values dropped)."""
    if isinstance(doc, dict):
        return {k: _shape(v) for k, v in doc.items()}
    return type(doc).__name__


GOOD_META = {"eventId": "e", "inferenceTime": "2022-02-14T17:25:49Z"}


def _line(capture: object, meta: object = GOOD_META) -> bytes:
    return orjson.dumps({"captureData": capture, "eventMetadata": meta})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"eventMetadata": {}}', "no captureData"),
        (b'{"captureData": {}}', "no eventMetadata"),
        (
            _line({"endpointInput": {}}, {"inferenceTime": "2022-02-14T17:25:49Z"}),
            "eventId is missing",
        ),
        (_line({"endpointInput": {}}, {"eventId": "e"}), "inferenceTime is missing"),
        (_line({"endpointInput": {}}, {"eventId": "e", "inferenceTime": "later"}), "not ISO 8601"),
        (_line({}), "neither endpointInput nor endpointOutput"),
        (_line({"endpointInput": {"data": 1, "encoding": "CSV"}}), "data must be a string"),
        (_line({"endpointInput": {"data": "x", "encoding": "XML"}}), "JSON, CSV or BASE64"),
        (_line({"endpointOutput": "x"}), "endpointOutput must be an object"),
    ],
)
def test_bad_records_are_refused_with_the_reason(line: bytes, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        CaptureRecord.decode(line)


def test_base64_payload_that_is_not_base64_is_an_error() -> None:
    payload = CapturedPayload("%%%", Encoding.BASE64, "application/x-npy", "INPUT")
    with pytest.raises(CaptureError, match="not valid base64"):
        payload.body()


@pytest.mark.parametrize("name", ["", "a/b", "..", "x\\y"])
def test_names_must_be_plain(name: str, tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="plain non-empty name"):
        variant_folder(tmp_path, endpoint=name, variant="v")
    with pytest.raises(CaptureError, match="plain non-empty name"):
        variant_folder(tmp_path, endpoint="e", variant=name)


def test_the_documented_sagemaker_record_parses() -> None:
    record = CaptureRecord.decode(SAGEMAKER_SAMPLE)
    assert record.event_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert record.inference_id == "caller-1"
    assert record.inference_time == datetime(2022, 2, 14, 17, 25, 49, tzinfo=UTC)
    assert record.event_version == "0"
    assert record.endpoint_input is not None
    assert record.endpoint_output is not None
    assert (record.endpoint_input.mode, record.endpoint_input.encoding) == ("INPUT", Encoding.CSV)
    assert record.endpoint_input.data == "69,0,153.7,109,194.0"
    assert record.endpoint_output.observed_content_type == "text/csv; charset=utf-8"
    assert record.endpoint_output.text() == "0.0254"


def test_written_records_have_the_documented_shape_and_round_trip() -> None:
    sample = orjson.loads(SAGEMAKER_SAMPLE)
    record = CaptureRecord.decode(SAGEMAKER_SAMPLE)
    line = record.encode()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    written = orjson.loads(line)
    assert _shape(written) == _shape(sample)
    assert written == sample
    assert CaptureRecord.decode(line) == record


def test_inference_id_is_left_out_when_the_caller_sent_none() -> None:
    record = CaptureRecord.decode(SAGEMAKER_SAMPLE)
    plain = CaptureRecord(
        event_id="e",
        inference_time=record.inference_time,
        endpoint_input=record.endpoint_input,
        endpoint_output=None,
    )
    doc = plain.to_json()
    assert doc["eventMetadata"] == {"eventId": "e", "inferenceTime": "2022-02-14T17:25:49Z"}
    assert doc["captureData"].keys() == {"endpointInput"}


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("application/json", Encoding.JSON),
        ("application/json; charset=utf-8", Encoding.JSON),
        ("application/vnd+json", Encoding.JSON),
        ("text/csv", Encoding.CSV),
        ("image/png", Encoding.BASE64),
        ("", Encoding.BASE64),
    ],
)
def test_bodies_are_text_for_json_and_csv_else_base64(
    content_type: str, encoding: Encoding
) -> None:
    body = b'{"instances": [1]}'
    payload = CapturedPayload.from_body(body, content_type=content_type, mode="INPUT")
    assert payload.encoding is encoding
    assert payload.body() == body
    if encoding is Encoding.BASE64:
        assert payload.data == base64.b64encode(body).decode()


def test_a_json_body_that_is_not_utf8_is_kept_as_base64() -> None:
    body = b"\xff\xfe{}"
    payload = CapturedPayload.from_body(body, content_type="application/json", mode="INPUT")
    assert payload.encoding is Encoding.BASE64
    assert payload.body() == body


def test_times_are_utc_whole_seconds() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(moment) == "2025-01-02T01:04:05Z"
    assert parse_time("2025-01-02T01:04:05Z") == datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert parse_time("2025-01-02T03:04:05+02:00") == datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert parse_time("2025-01-02T01:04:05") == datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_layout_is_endpoint_variant_then_utc_hour(tmp_path: Path) -> None:
    root = variant_folder(tmp_path, endpoint="drivers", variant="AllTraffic")
    moment = datetime(2025, 1, 2, 23, 59, tzinfo=timezone(timedelta(hours=-2)))
    assert hour_folder(root, moment) == tmp_path / "drivers/AllTraffic/2025/01/03/01"
    name = file_name(datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC))
    assert name.startswith("04-05-678-")
    assert name.endswith(".jsonl")
