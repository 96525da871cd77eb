"""SageMaker's data capture record: one JSON object per request, one per line (JSON Lines).

A record, as SageMaker writes it::

    {"captureData": {
        "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                          "data": "1,2,3", "encoding": "CSV"},
        "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                           "data": "0.0254", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<caller's id, optional>",
                       "inferenceTime": "2022-02-14T17:25:49Z"},
     "eventVersion": "0"}

``data`` is the body as text when ``encoding`` is ``JSON`` or ``CSV``, else its base64
(``BASE64``). Either side may be absent (SageMaker can capture input or output only).

Files live at ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`` where the hour
is the UTC hour of the invocation (:func:`hour_folder`); file names are
``<mm>-<ss>-<mmm>-<uuid>.jsonl`` from the time the file was opened, like SageMaker's.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal

import orjson

from model_monitor.errors import CaptureError

EVENT_VERSION: Final = "0"
DEFAULT_VARIANT: Final = "AllTraffic"
"""SageMaker's default production variant name."""
FILE_SUFFIX: Final = ".jsonl"

Mode = Literal["INPUT", "OUTPUT"]


class Encoding(StrEnum):
    """How a captured body is stored in ``data``."""

    JSON = "JSON"
    CSV = "CSV"
    BASE64 = "BASE64"


@dataclass(frozen=True)
class CapturedPayload:
    """One side of a request as captured: the body and how it was encoded."""

    data: str
    encoding: Encoding
    observed_content_type: str
    mode: Mode

    @classmethod
    def from_body(cls, body: bytes, *, content_type: str, mode: Mode) -> CapturedPayload:
        """Capture a body: JSON and CSV bodies stay text, anything else is base64.

        A JSON or CSV body that is not valid UTF-8 is stored as base64 too.
        """
        encoding = _text_encoding(content_type)
        text = None if encoding is None else _utf8(body)
        if encoding is not None and text is not None:
            return cls(text, encoding, content_type, mode)
        data = base64.b64encode(body).decode("ascii")
        return cls(data, Encoding.BASE64, content_type, mode)

    def body(self) -> bytes:
        """The body as sent (base64 decoded when needed).

        Raises:
            CaptureError: ``data`` is not valid base64 for a ``BASE64`` payload.
        """
        if self.encoding is Encoding.BASE64:
            try:
                return base64.b64decode(self.data, validate=True)
            except (binascii.Error, ValueError):
                raise CaptureError(f"{self.mode.lower()} data is not valid base64") from None
        return self.data.encode("utf-8")

    def text(self) -> str:
        """The body as text (base64 payloads are decoded as UTF-8, replacing bad bytes)."""
        if self.encoding is Encoding.BASE64:
            return self.body().decode("utf-8", errors="replace")
        return self.data

    def to_json(self) -> dict[str, str]:
        """The ``endpointInput`` / ``endpointOutput`` object."""
        return {
            "observedContentType": self.observed_content_type,
            "mode": self.mode,
            "data": self.data,
            "encoding": str(self.encoding),
        }

    @classmethod
    def from_json(cls, doc: Any, *, mode: Mode) -> CapturedPayload:
        """Parse an ``endpointInput`` / ``endpointOutput`` object.

        Raises:
            CaptureError: A field is missing or of the wrong type, or the encoding is unknown.
        """
        side = "endpointInput" if mode == "INPUT" else "endpointOutput"
        if not isinstance(doc, dict):
            raise CaptureError(f"captureData.{side} must be an object")
        data, encoding = doc.get("data"), doc.get("encoding")
        if not isinstance(data, str):
            raise CaptureError(f"captureData.{side}.data must be a string")
        try:
            parsed = Encoding(str(encoding).upper())
        except ValueError:
            raise CaptureError(
                f"captureData.{side}.encoding must be JSON, CSV or BASE64, got {encoding!r}"
            ) from None
        content_type = doc.get("observedContentType")
        return cls(data, parsed, content_type if isinstance(content_type, str) else "", mode)


@dataclass(frozen=True)
class CaptureRecord:
    """One captured request."""

    event_id: str
    inference_time: datetime
    endpoint_input: CapturedPayload | None
    endpoint_output: CapturedPayload | None
    inference_id: str | None = None
    event_version: str = EVENT_VERSION

    def to_json(self) -> dict[str, Any]:
        """The record as SageMaker's JSON object."""
        capture: dict[str, Any] = {}
        if self.endpoint_input is not None:
            capture["endpointInput"] = self.endpoint_input.to_json()
        if self.endpoint_output is not None:
            capture["endpointOutput"] = self.endpoint_output.to_json()
        metadata: dict[str, str] = {"eventId": self.event_id}
        if self.inference_id is not None:
            metadata["inferenceId"] = self.inference_id
        metadata["inferenceTime"] = format_time(self.inference_time)
        return {
            "captureData": capture,
            "eventMetadata": metadata,
            "eventVersion": self.event_version,
        }

    def encode(self) -> bytes:
        """The record as one JSON line (with its newline)."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_APPEND_NEWLINE)

    @classmethod
    def from_json(cls, doc: Any) -> CaptureRecord:
        """Parse a record object.

        Raises:
            CaptureError: The record lacks ``eventMetadata.eventId``, a valid
                ``inferenceTime``, or both sides of ``captureData``; the message says which.
        """
        if not isinstance(doc, dict):
            raise CaptureError("a capture record must be a JSON object")
        capture, metadata = doc.get("captureData"), doc.get("eventMetadata")
        if not isinstance(capture, dict):
            raise CaptureError("the record has no captureData object")
        if not isinstance(metadata, dict):
            raise CaptureError("the record has no eventMetadata object")
        event_id = metadata.get("eventId")
        if not isinstance(event_id, str) or not event_id:
            raise CaptureError("eventMetadata.eventId is missing")
        moment = parse_time(metadata.get("inferenceTime"))
        inference_id = metadata.get("inferenceId")
        raw_in, raw_out = capture.get("endpointInput"), capture.get("endpointOutput")
        if raw_in is None and raw_out is None:
            raise CaptureError("captureData holds neither endpointInput nor endpointOutput")
        return cls(
            event_id=event_id,
            inference_time=moment,
            endpoint_input=None
            if raw_in is None
            else CapturedPayload.from_json(raw_in, mode="INPUT"),
            endpoint_output=None
            if raw_out is None
            else CapturedPayload.from_json(raw_out, mode="OUTPUT"),
            inference_id=str(inference_id) if inference_id is not None else None,
            event_version=str(doc.get("eventVersion", EVENT_VERSION)),
        )

    @classmethod
    def decode(cls, line: bytes | str) -> CaptureRecord:
        """Parse one JSON line.

        Raises:
            CaptureError: The line is not JSON or not a valid record.
        """
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise CaptureError("the line is not valid JSON") from None
        return cls.from_json(doc)


def new_event_id() -> str:
    """A fresh ``eventId`` (a random UUID, as SageMaker uses)."""
    return str(uuid.uuid4())


def format_time(moment: datetime) -> str:
    """``inferenceTime`` as SageMaker writes it: UTC, whole seconds, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime:
    """Parse an ``inferenceTime`` (ISO 8601; ``Z``, an offset, or naive meaning UTC).

    Raises:
        CaptureError: The value is missing or not ISO 8601.
    """
    if not isinstance(value, str) or not value:
        raise CaptureError("eventMetadata.inferenceTime is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CaptureError(f"eventMetadata.inferenceTime is not ISO 8601: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def variant_folder(destination: Path, *, endpoint: str, variant: str) -> Path:
    """``<destination>/<endpoint>/<variant>``, the root of one variant's captured files.

    Raises:
        CaptureError: A name is empty or holds a path separator.
    """
    for label, name in (("endpoint", endpoint), ("variant", variant)):
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise CaptureError(f"the {label} name must be a plain non-empty name, got {name!r}")
    return destination / endpoint / variant


def hour_folder(root: Path, moment: datetime) -> Path:
    """``<root>/yyyy/mm/dd/hh`` for the UTC hour of ``moment``."""
    utc = moment.astimezone(UTC)
    return root / f"{utc:%Y}" / f"{utc:%m}" / f"{utc:%d}" / f"{utc:%H}"


def file_name(opened: datetime) -> str:
    """A capture file name: ``<mm>-<ss>-<mmm>-<uuid>.jsonl`` from the time it is opened."""
    utc = opened.astimezone(UTC)
    return f"{utc:%M-%S}-{utc.microsecond // 1000:03d}-{uuid.uuid4()}{FILE_SUFFIX}"


def _text_encoding(content_type: str) -> Encoding | None:
    """``JSON`` or ``CSV`` for the content types captured as text, else None (base64)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json") or media == "application/jsonlines":
        return Encoding.JSON
    if media in ("text/csv", "application/csv"):
        return Encoding.CSV
    return None


def _utf8(body: bytes) -> str | None:
    """The body as UTF-8 text, or None when it is not valid UTF-8 (then it is kept as base64)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
