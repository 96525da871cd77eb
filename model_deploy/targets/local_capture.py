"""Data capture of the local router, off the request path, in SageMaker's format and layout.

:func:`capture_record` builds the record ``model_monitor.capture`` documents (``captureData``
with ``endpointInput``/``endpointOutput``, ``eventMetadata`` with ``eventId``, the caller's
``inferenceId`` and ``inferenceTime``, ``eventVersion`` ``"0"``); :class:`CaptureSink` samples
and queues on the request thread and writes from one daemon thread into
``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl``. Standard
library only: the router imports it and runs as its own small process (the tests check the
records against ``model_monitor``'s reader).
"""

from __future__ import annotations

import base64
import json
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
#: Longest inference id recorded (longer header values are cut), as the inference server does.
MAX_INFERENCE_ID = 256
#: SageMaker's default production variant (``model_monitor.capture.DEFAULT_VARIANT``).
CAPTURE_VARIANT = "AllTraffic"
CAPTURE_QUEUE = 10_000
MAX_CAPTURE_FILE_BYTES = 64 * 1024 * 1024
_BATCH = 1000
_COALESCE_SECONDS = 0.01


class CaptureTarget(NamedTuple):
    """Where and how much the routes say to capture."""

    percentage: float
    destination: Path
    endpoint: str
    variant: str


class _Captured(NamedTuple):
    """One sampled request waiting in the queue (encoded by the writer thread)."""

    target: CaptureTarget
    at: float
    request: bytes
    request_type: str
    response: bytes
    response_type: str
    inference_id: str | None


def capture_record(
    *,
    at: float,
    request: bytes,
    request_type: str,
    response: bytes,
    response_type: str,
    inference_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One SageMaker capture record (``captureData``, ``eventMetadata``, ``eventVersion``).

    ``at`` is the arrival time (seconds since the epoch), written as UTC whole seconds with a
    ``Z``; ``eventId`` is a fresh UUID unless given; ``inferenceId`` is present only when the
    caller sent one (cut at :data:`MAX_INFERENCE_ID` characters).
    """
    metadata = {"eventId": event_id or str(uuid.uuid4())}
    if inference_id:
        metadata["inferenceId"] = inference_id[:MAX_INFERENCE_ID]
    metadata["inferenceTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return {
        "captureData": {
            "endpointInput": _payload(request, request_type, "INPUT"),
            "endpointOutput": _payload(response, response_type, "OUTPUT"),
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


def capture_line(**fields: Any) -> bytes:
    """:func:`capture_record` as one compact JSON line (UTF-8, with its newline)."""
    record = capture_record(**fields)
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def capture_folder(target: CaptureTarget, at: float) -> Path:
    """``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh`` for the UTC hour of ``at``."""
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(at))
    return target.destination / target.endpoint / target.variant / hour


def _payload(body: bytes, content_type: str, mode: str) -> dict[str, str]:
    """``endpointInput``/``endpointOutput`` of one body.

    JSON and CSV bodies are text, anything else (or a body that is not UTF-8) is base64,
    exactly as ``model_monitor.capture.CapturedPayload.from_body`` decides.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    encoding = "BASE64"
    if media in ("application/json", "application/jsonlines") or media.endswith("+json"):
        encoding = "JSON"
    elif media in ("text/csv", "application/csv"):
        encoding = "CSV"
    data: str | None = None
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if data is None:
        data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


class CaptureSink:
    """Sampled capture off the request path: a bounded queue and one daemon writer thread.

    :meth:`offer` samples and enqueues (never raises, never blocks); the writer takes what is
    queued (up to 1,000 records), appends each hour's lines with one write to that hour's open
    file, then waits 10 ms so records are written in batches. Files rotate on a new hour, a new
    destination or past ``max_file_bytes``.
    """

    def __init__(
        self,
        *,
        log: Callable[[str], None],
        max_queue: int = CAPTURE_QUEUE,
        max_file_bytes: int = MAX_CAPTURE_FILE_BYTES,
        rng: random.Random | None = None,
    ) -> None:
        self._log = log
        self._queue: queue.Queue[_Captured] = queue.Queue(maxsize=max_queue)
        self._max_file_bytes = max_file_bytes
        self._draw = (rng or random.Random()).random
        self._lock = threading.Lock()
        self.queued = self.written = self.dropped = self.failed = 0
        self._complained: set[str] = set()
        self._file: IO[bytes] | None = None
        self._folder: Path | None = None
        self._file_bytes = 0
        self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
        self._thread.start()

    def offer(self, target: CaptureTarget | None, **fields: Any) -> bool:
        """Sample one answered request against ``target``'s percentage and queue it.

        ``fields`` are :class:`_Captured`'s (``at``, ``request``, ``request_type``,
        ``response``, ``response_type``, ``inference_id``). Returns whether it was queued.
        """
        if target is None or target.percentage <= 0:
            return False
        if target.percentage < 100 and self._draw() * 100 >= target.percentage:
            return False
        try:
            self._queue.put_nowait(_Captured(target, **fields))
        except queue.Full:
            with self._lock:
                self.dropped += 1
            self._complain("full", "capture queue full: records are dropped (counted)")
            return False
        with self._lock:
            self.queued += 1
        return True

    def status(self) -> dict[str, int]:
        """``queued``, ``written``, ``dropped``, ``failed`` so far and ``pending`` now."""
        with self._lock:
            return {
                "queued": self.queued,
                "written": self.written,
                "dropped": self.dropped,
                "failed": self.failed,
                "pending": self._queue.qsize(),
            }

    def flush(self, *, timeout: float = 5.0) -> bool:
        """Wait until every queued record is written (or lost); whether it happened in time."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception as exc:  # noqa: BLE001 - the writer thread must outlive any record
                with self._lock:
                    self.failed += len(batch)
                self._complain("bug", f"capture writer error ({exc!r}): records lost (counted)")
            finally:
                for _ in batch:
                    self._queue.task_done()
            time.sleep(_COALESCE_SECONDS)

    def _write(self, batch: list[_Captured]) -> None:
        """Append the batch's lines, one write per run of records of the same hour folder."""
        groups: list[tuple[Path, list[bytes]]] = []
        for item in batch:
            folder = capture_folder(item.target, item.at)
            line = capture_line(
                at=item.at, request=item.request, request_type=item.request_type,
                response=item.response, response_type=item.response_type,
                inference_id=item.inference_id,
            )  # fmt: skip
            if groups and groups[-1][0] == folder:
                groups[-1][1].append(line)
            else:
                groups.append((folder, [line]))
        for folder, lines in groups:
            data = b"".join(lines)
            try:
                self._file_for(folder, len(data)).write(data)
            except OSError as exc:
                self._close()
                with self._lock:
                    self.failed += len(lines)
                self._complain("write", f"capture write failed ({exc}): records lost (counted)")
                continue
            self._file_bytes += len(data)
            with self._lock:
                self.written += len(lines)

    def _file_for(self, folder: Path, size: int) -> IO[bytes]:
        if (
            self._file is None
            or folder != self._folder
            or self._file_bytes + size > self._max_file_bytes
        ):
            self._close()
            folder.mkdir(parents=True, exist_ok=True)
            now = datetime.now(UTC)
            name = f"{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            self._file = (folder / name).open("ab", buffering=0)
            self._folder, self._file_bytes = folder, 0
        return self._file

    def _close(self) -> None:
        handle, self._file, self._folder = self._file, None, None
        if handle is not None:
            try:
                handle.close()
            except OSError as exc:
                self._complain("close", f"capture file close failed ({exc})")

    def _complain(self, kind: str, message: str) -> None:
        """Log each kind of capture problem once (the status keeps counting)."""
        if kind not in self._complained:
            self._complained.add(kind)
            self._log(message)
