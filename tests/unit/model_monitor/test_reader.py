"""Reading capture files over a window: corrupt and truncated lines are counted, never hidden."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from monitor_kit import SAGEMAKER_SAMPLE, T0, json_record, write_records

from model_monitor.capture import variant_folder
from model_monitor.errors import CaptureError
from model_monitor.reader import ReadReport, capture_files, iter_records


def _root(tmp_path: Path) -> Path:
    return variant_folder(tmp_path, endpoint="ep", variant="AllTraffic")


def _files(tmp_path: Path, **window: datetime) -> list[Path]:
    return capture_files(destination=tmp_path, endpoint="ep", variant="AllTraffic", **window)


def test_naive_or_inverted_windows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="aware time"):
        _files(tmp_path, since=datetime(2025, 1, 1))
    with pytest.raises(CaptureError, match="must be before"):
        _files(tmp_path, since=T0, until=T0)
    with pytest.raises(CaptureError, match="must be before"):
        list(iter_records(files=[], since=T0, until=T0 - timedelta(hours=1)))


def test_a_variant_that_captured_nothing_has_no_files(tmp_path: Path) -> None:
    assert _files(tmp_path) == []
    report = ReadReport()
    assert list(iter_records(files=[], report=report)) == []
    assert report.warnings() == []


def test_corrupt_and_truncated_lines_are_counted(tmp_path: Path) -> None:
    good = json_record([{"x": 1}], [{"probability": 0.2}])
    path = write_records(_root(tmp_path), [good, good])
    with path.open("ab") as handle:
        handle.write(b"{broken\n")
        handle.write(b'{"captureData": {}}\n')
        handle.write(b"\n")
        handle.write(good.encode())
        handle.write(good.encode()[:40])  # a writer killed mid-line
    report = ReadReport()
    records = list(iter_records(files=[path], report=report))
    assert len(records) == 3
    assert (report.corrupt_lines, report.truncated_lines, report.records) == (2, 1, 3)
    assert report.lines == 6
    warnings = report.warnings()
    assert len(warnings) == 2
    assert "2 corrupt capture line(s)" in warnings[0]
    assert f"{path}:3: not JSON" in warnings[0]
    assert "truncated" in warnings[1]


def test_a_file_ending_without_newline_but_complete_is_fine(tmp_path: Path) -> None:
    path = _root(tmp_path) / "2022/02/14/17/a.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(SAGEMAKER_SAMPLE)
    report = ReadReport()
    assert len(list(iter_records(files=[path], report=report))) == 1
    assert report.warnings() == []


def test_window_filters_by_inference_time(tmp_path: Path) -> None:
    root = _root(tmp_path)
    for hour in range(4):
        at = T0 + timedelta(hours=hour)
        write_records(root, [json_record([{"x": hour}], None, at=at, event_id=f"h{hour}")])
    since, until = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    files = _files(tmp_path, since=since, until=until)
    assert [f.parent.name for f in files] == ["11", "12"]
    report = ReadReport()
    records = list(iter_records(files=_files(tmp_path), since=since, until=until, report=report))
    assert [r.event_id for r in records] == ["h1", "h2"]
    assert report.outside_window == 2


def test_hour_folders_overlapping_the_window_edges_are_kept(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_records(root, [json_record([{"x": 1}], None, at=T0 + timedelta(minutes=50))])
    since = T0 + timedelta(minutes=30)
    until = datetime(2025, 3, 4, 11, 0, tzinfo=UTC)
    assert len(_files(tmp_path, since=since, until=until)) == 1
    assert _files(tmp_path, since=until) == []
