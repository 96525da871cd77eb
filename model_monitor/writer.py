"""Write capture records off the request path: a bounded queue drained by one background thread.

The request path only samples and enqueues (no encoding, no I/O): :meth:`CaptureWriter.capture`
costs a random draw, a tuple and a non-blocking ``put``. The writer thread encodes each record,
appends it to the current file of its UTC hour
(``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh``) and flushes whenever the queue runs
empty, then waits 10 ms before looking again, so records are written in batches (one GIL
hand-over per batch rather than per request) and a reader sees each within about a second.

Nothing here raises into the caller once the writer is built: a full queue drops the record, a
failed write is skipped; both are counted (:class:`CaptureStats`) and logged (at most once a
minute after the first, with the running counts). Files are rotated when the hour changes or a
file would grow past ``max_file_bytes``, and flushed and closed by :meth:`CaptureWriter.close`.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from model_monitor.capture import (
    DEFAULT_VARIANT,
    CapturedPayload,
    CaptureRecord,
    file_name,
    hour_folder,
    new_event_id,
    variant_folder,
)
from model_monitor.errors import CaptureError

logger = logging.getLogger(__name__)

DEFAULT_MAX_QUEUE: Final = 10_000
DEFAULT_MAX_FILE_BYTES: Final = 64 * 1024 * 1024
_LOG_EVERY_SECONDS: Final = 60.0
_COALESCE_SECONDS: Final = 0.01
_STOP: Final = object()

_Item = tuple[float, str | None, bytes | None, str, bytes | None, str]


@dataclass(frozen=True)
class CaptureStats:
    """What a writer did so far.

    Attributes:
        submitted: Requests offered to :meth:`CaptureWriter.capture`.
        sampled_out: Requests left out by the sampling percentage.
        written: Records appended to a file.
        dropped: Records lost because the queue was full or the writer was closed.
        failed: Records lost to an encoding or file error.
        files: Files opened.
        pending: Records queued and not yet written.
    """

    submitted: int
    sampled_out: int
    written: int
    dropped: int
    failed: int
    files: int
    pending: int

    def to_json(self) -> dict[str, int]:
        """The counts as a JSON object."""
        return asdict(self)


class CaptureWriter:
    """Capture requests into SageMaker's layout from a background thread.

    Args:
        destination: The capture root (SageMaker's ``DestinationS3Uri``, here a folder).
        endpoint: Endpoint name (first folder under the destination).
        variant: Production variant name (second folder).
        sampling_percentage: Share of requests captured, 0 to 100 (SageMaker's
            ``InitialSamplingPercentage``).
        max_queue: Records waiting to be written before new ones are dropped.
        max_file_bytes: Size past which the next record starts a new file.
        flush_seconds: Longest time a written record may sit in the file buffer.
        rng: Random draw in ``[0, 1)`` used for sampling (seedable in tests).

    Raises:
        CaptureError: A setting is out of range or a name is not a plain name.
    """

    def __init__(
        self,
        *,
        destination: Path,
        endpoint: str,
        variant: str = DEFAULT_VARIANT,
        sampling_percentage: float = 100.0,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        flush_seconds: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0.0 <= sampling_percentage <= 100.0:
            raise CaptureError(
                f"the sampling percentage must be between 0 and 100, got {sampling_percentage}"
            )
        if max_queue < 1:
            raise CaptureError(f"the capture queue size must be at least 1, got {max_queue}")
        if max_file_bytes < 1024:
            raise CaptureError(f"max_file_bytes must be at least 1024, got {max_file_bytes}")
        if flush_seconds <= 0:
            raise CaptureError(f"flush_seconds must be positive, got {flush_seconds}")
        self.root = variant_folder(destination, endpoint=endpoint, variant=variant)
        self.sampling_percentage = float(sampling_percentage)
        self._threshold = self.sampling_percentage / 100.0
        self._draw = (rng or random.Random()).random
        self._max_file_bytes = max_file_bytes
        self._flush_seconds = flush_seconds
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._submitted = self._sampled_out = self._dropped = 0
        self._written = self._failed = self._files = 0
        self._closed = False
        self._file: IO[bytes] | None = None
        self._file_hour = -1
        self._file_bytes = 0
        self._dirty = False
        self._last_log = 0.0
        self._drained = threading.Condition()
        self._thread = threading.Thread(target=self._guarded, name="capture-writer", daemon=True)
        self._thread.start()

    def capture(
        self,
        *,
        input_body: bytes | None,
        input_type: str,
        output_body: bytes | None,
        output_type: str,
        inference_id: str | None = None,
        at: float | None = None,
    ) -> bool:
        """Offer one request for capture; never raises and never blocks.

        Args:
            input_body: The request body (None to capture the output only).
            input_type: The request's content type.
            output_body: The response body (None to capture the input only).
            output_type: The response's content type.
            inference_id: The caller's ``X-Amzn-SageMaker-Inference-Id``, if it sent one.
            at: Invocation time (seconds since the epoch; default now).

        Returns:
            Whether the record was queued (False when sampled out, dropped or closed).
        """
        try:
            with self._lock:
                self._submitted += 1
                if self._threshold < 1.0 and self._draw() >= self._threshold:
                    self._sampled_out += 1
                    return False
                if self._closed:
                    self._dropped += 1
                    return False
            item: _Item = (
                time.time() if at is None else at,
                inference_id,
                input_body,
                input_type,
                output_body,
                output_type,
            )
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self._dropped += 1
            self._complain("capture queue full: record dropped")
            return False
        except Exception:  # never fail a prediction because of capture
            with self._lock:
                self._failed += 1
            logger.exception("capture failed; the prediction is unaffected")
            return False
        return True

    def stats(self) -> CaptureStats:
        """The counts so far."""
        with self._lock:
            return CaptureStats(
                submitted=self._submitted,
                sampled_out=self._sampled_out,
                written=self._written,
                dropped=self._dropped,
                failed=self._failed,
                files=self._files,
                pending=self._queue.qsize(),
            )

    def flush(self, *, timeout: float = 5.0) -> bool:
        """Wait until every queued record is written and flushed to its file.

        Returns:
            Whether the queue drained within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._drained:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._drained.wait(timeout=min(left, 0.05))
        return True

    def close(self, *, timeout: float = 10.0) -> CaptureStats:
        """Stop accepting records, write what is queued, flush and close the file.

        Records still queued after ``timeout`` seconds are left unwritten and logged.

        Returns:
            The final counts.
        """
        with self._lock:
            already = self._closed
            self._closed = True
        if not already and self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                logger.warning("capture writer did not drain its queue in %.1fs", timeout)
            self._thread.join(timeout=timeout)
        final = self.stats()
        if final.pending:
            logger.warning("capture writer closed with %d records unwritten", final.pending)
        return final

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _guarded(self) -> None:
        """The writer thread's body; an unexpected error stops capture loudly, never silently."""
        try:
            self._run()
        except Exception:
            logger.exception("the capture writer stopped; later records are dropped and counted")
            with self._lock:
                self._closed = True
            self._close_file()

    def _run(self) -> None:
        """The writer thread: write records until told to stop; flush when the queue is empty."""
        while True:
            try:
                item = self._queue.get(timeout=self._flush_seconds)
            except queue.Empty:
                self._flush_file()
                continue
            if item is _STOP:
                self._queue.task_done()
                break
            self._write(item)
            if self._queue.empty():
                self._flush_file()
                self._queue.task_done()
                with self._drained:
                    self._drained.notify_all()
                # let records gather before the next wake-up: one GIL hand-over per batch,
                # not per request, keeps the request threads' latency steady under load
                time.sleep(_COALESCE_SECONDS)
            else:
                self._queue.task_done()
        self._close_file()
        with self._drained:
            self._drained.notify_all()

    def _write(self, item: _Item) -> None:
        """Encode one record and append it to the file of its hour (errors are counted)."""
        at, inference_id, input_body, input_type, output_body, output_type = item
        try:
            moment = datetime.fromtimestamp(at, tz=UTC)
            record = CaptureRecord(
                event_id=new_event_id(),
                inference_time=moment,
                endpoint_input=None
                if input_body is None
                else CapturedPayload.from_body(input_body, content_type=input_type, mode="INPUT"),
                endpoint_output=None
                if output_body is None
                else CapturedPayload.from_body(
                    output_body, content_type=output_type, mode="OUTPUT"
                ),
                inference_id=inference_id,
            )
            line = record.encode()
            handle = self._file_for(at, size=len(line))
            handle.write(line)
            self._file_bytes += len(line)
            self._dirty = True
        except Exception:  # noqa: BLE001 - a capture failure is counted and logged, never raised
            with self._lock:
                self._failed += 1
            self._complain("capture write failed: record lost", exc_info=True)
            self._close_file()
            return
        with self._lock:
            self._written += 1

    def _file_for(self, at: float, *, size: int) -> IO[bytes]:
        """The open file for the UTC hour of ``at``, rotating on a new hour or a full file."""
        hour = int(at // 3600)
        if (
            self._file is None
            or hour != self._file_hour
            or self._file_bytes + size > self._max_file_bytes
        ):
            self._close_file()
            folder = hour_folder(self.root, datetime.fromtimestamp(at, tz=UTC))
            folder.mkdir(parents=True, exist_ok=True)
            self._file = (folder / file_name(datetime.now(UTC))).open("ab")
            self._file_hour = hour
            self._file_bytes = 0
            with self._lock:
                self._files += 1
        return self._file

    def _flush_file(self) -> None:
        """Push buffered lines to the file (errors are logged; the records count as written)."""
        if self._file is None or not self._dirty:
            return
        try:
            self._file.flush()
            self._dirty = False
        except OSError:
            self._complain("capture flush failed", exc_info=True)
            self._close_file()

    def _close_file(self) -> None:
        """Flush and close the current file, if any."""
        handle, self._file, self._file_hour = self._file, None, -1
        self._dirty = False
        if handle is None:
            return
        try:
            handle.close()
        except OSError:
            self._complain("capture file close failed", exc_info=True)

    def _complain(self, message: str, *, exc_info: bool = False) -> None:
        """Log a capture problem: the first one, then at most once a minute with the counts."""
        now = time.monotonic()
        if self._last_log and now - self._last_log < _LOG_EVERY_SECONDS:
            return
        self._last_log = now
        counts = self.stats()
        logger.warning(
            "%s (dropped %d, failed %d, written %d so far)",
            message,
            counts.dropped,
            counts.failed,
            counts.written,
            exc_info=exc_info,
        )
