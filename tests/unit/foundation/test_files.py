"""Atomic files: a writer that wants a path replaces the file in one rename, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.files import replacing


def test_a_failing_writer_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    target.write_text("old")

    def crash(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("writer crashed")

    def write() -> None:
        with replacing(target) as tmp:
            crash(tmp)

    with pytest.raises(RuntimeError):
        write()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


def test_a_finished_writer_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "new" / "out.csv"
    with replacing(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp != target
        tmp.write_text("rows")
    assert target.read_text() == "rows"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.csv"]
