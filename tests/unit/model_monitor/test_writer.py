"""The capture writer: sampling, a bounded queue, rotation, failures counted but never raised."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from model_monitor.capture import CaptureRecord
from model_monitor.errors import CaptureError
from model_monitor.reader import ReadReport, capture_files, iter_records
from model_monitor.writer import CaptureWriter

AT = datetime(2025, 3, 4, 10, 30, tzinfo=UTC).timestamp()
HOUR = 3600.0


def _offer(
    writer: CaptureWriter,
    *,
    at: float = AT,
    body: bytes = b'{"instances": [{"x": 1}]}',
    **extra: Any,
) -> bool:
    return writer.capture(
        input_body=body,
        input_type="application/json",
        output_body=b'{"predictions": [0.5]}',
        output_type="application/json",
        at=at,
        **extra,
    )


def _read(root: Path) -> tuple[list[CaptureRecord], list[Path]]:
    files = capture_files(destination=root, endpoint="ep", variant="AllTraffic")
    report = ReadReport()
    found = list(iter_records(files=files, report=report))
    assert report.warnings() == []
    return found, files


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampling_percentage": -1}, "between 0 and 100"),
        ({"sampling_percentage": 100.5}, "between 0 and 100"),
        ({"max_queue": 0}, "at least 1"),
        ({"max_file_bytes": 10}, "at least 1024"),
        ({"flush_seconds": 0}, "positive"),
        ({"endpoint": "a/b"}, "plain non-empty name"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"destination": tmp_path, "endpoint": "ep", **kwargs}
    with pytest.raises(CaptureError, match=message):
        CaptureWriter(**settings)


def test_unwritable_destination_counts_failures_and_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with CaptureWriter(destination=blocker, endpoint="ep") as writer:
        assert all(_offer(writer) for _ in range(4))
        assert writer.flush()
    stats = writer.stats()
    assert (stats.failed, stats.written, stats.submitted) == (4, 0, 4)


def test_full_queue_drops_and_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    writer = CaptureWriter(destination=tmp_path, endpoint="ep", max_queue=2)
    original = writer._write

    def slow(item: Any) -> None:
        gate.wait(timeout=10)
        original(item)

    monkeypatch.setattr(writer, "_write", slow)
    try:
        results = [_offer(writer) for _ in range(10)]
    finally:
        gate.set()
        stats = writer.close()
    # one record may be taken by the writer thread before it blocks, two wait in the queue
    assert 2 <= sum(results) <= 3
    assert stats.dropped == 10 - sum(results)
    assert stats.written == sum(results)


def test_an_unexpected_error_on_the_request_path_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CaptureWriter(destination=tmp_path, endpoint="ep") as writer:

        def broken(item: Any) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(writer._queue, "put_nowait", broken)
        assert _offer(writer) is False
        assert writer.stats().failed == 1


def test_sampling_percentage_is_honoured(tmp_path: Path) -> None:
    with CaptureWriter(
        destination=tmp_path, endpoint="ep", sampling_percentage=30, rng=random.Random(7)
    ) as writer:
        kept = sum(_offer(writer) for _ in range(2000))
    stats = writer.stats()
    assert 500 <= kept <= 700  # 30% of 2000, binomial sd ~20
    assert (stats.written, stats.sampled_out) == (kept, 2000 - kept)
    assert len(_read(tmp_path)[0]) == kept


def test_zero_and_hundred_percent(tmp_path: Path) -> None:
    with CaptureWriter(destination=tmp_path / "none", endpoint="ep", sampling_percentage=0) as w:
        assert not any(_offer(w) for _ in range(50))
    with CaptureWriter(destination=tmp_path / "all", endpoint="ep") as w:
        assert all(_offer(w) for _ in range(50))
    assert _read(tmp_path / "none")[0] == []
    assert len(_read(tmp_path / "all")[0]) == 50


def test_records_land_in_their_utc_hour_and_files_rotate(tmp_path: Path) -> None:
    with CaptureWriter(destination=tmp_path, endpoint="ep") as writer:
        _offer(writer, at=AT)
        _offer(writer, at=AT + 1)
        _offer(writer, at=AT + HOUR)
    records, files = _read(tmp_path)
    assert [f.parent.relative_to(tmp_path).as_posix() for f in files] == [
        "ep/AllTraffic/2025/03/04/10",
        "ep/AllTraffic/2025/03/04/11",
    ]
    assert [r.inference_time.hour for r in records] == [10, 10, 11]
    assert writer.stats().files == 2


def test_files_rotate_when_full(tmp_path: Path) -> None:
    body = b'{"instances": [{"x": "' + b"y" * 600 + b'"}]}'
    with CaptureWriter(destination=tmp_path, endpoint="ep", max_file_bytes=2048) as writer:
        for _ in range(9):
            _offer(writer, body=body)
    records, files = _read(tmp_path)
    assert len(records) == 9
    assert len(files) >= 4
    assert all(f.stat().st_size <= 2048 for f in files)


def test_flush_makes_records_readable_before_close(tmp_path: Path) -> None:
    writer = CaptureWriter(destination=tmp_path, endpoint="ep")
    try:
        _offer(writer, inference_id="abc")
        assert writer.flush(timeout=5)
        (record,), _ = _read(tmp_path)
        assert record.inference_id == "abc"
        assert record.endpoint_input is not None
        assert record.endpoint_input.body() == b'{"instances": [{"x": 1}]}'
    finally:
        writer.close()


def test_close_is_idempotent_and_later_records_count_as_dropped(tmp_path: Path) -> None:
    writer = CaptureWriter(destination=tmp_path, endpoint="ep")
    _offer(writer)
    first = writer.close()
    second = writer.close()
    assert first.written == second.written == 1
    assert _offer(writer) is False
    assert writer.stats().dropped == 1


def test_input_only_and_output_only_capture(tmp_path: Path) -> None:
    with CaptureWriter(destination=tmp_path, endpoint="ep") as writer:
        writer.capture(
            input_body=b"1,2", input_type="text/csv", output_body=None, output_type="", at=AT
        )
        writer.capture(
            input_body=None, input_type="", output_body=b"0.5", output_type="text/csv", at=AT
        )
    only_in, only_out = _read(tmp_path)[0]
    assert only_in.endpoint_output is None
    assert only_in.endpoint_input is not None
    assert only_out.endpoint_input is None
    assert only_out.endpoint_output is not None


def test_a_crashed_writer_thread_says_so_and_drops_later_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    writer = CaptureWriter(destination=tmp_path, endpoint="ep")

    def broken() -> None:
        raise RuntimeError("disk gremlin")

    monkeypatch.setattr(writer, "_flush_file", broken)
    with caplog.at_level("ERROR"):
        _offer(writer)
        writer._thread.join(timeout=5)
    assert not writer._thread.is_alive()
    assert "the capture writer stopped" in caplog.text
    assert _offer(writer) is False
    assert writer.stats().dropped == 1
    assert writer.flush(timeout=1) is False  # the record in hand never finished
    writer.close()
