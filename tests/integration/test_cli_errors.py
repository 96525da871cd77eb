"""The CLI as a user runs it: every expected failure is one line naming the file, exit 1.

One test runs ``python -m slipway`` in a real process, on a path that loads Feast (the exit
code and the one stderr line a shell sees, import-time warnings included); the others call
:func:`slipway.cli.app.run`, the same function the console script calls, in this process, so
each does not pay Feast's and Great Expectations' imports (5-8 s a process) again. Its return
value is the process's exit code (``main`` passes it to ``sys.exit``) and its stderr is what
the process would print.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feature_store.demo_data import DemoSizes, write_demo_data
from slipway.cli.app import run

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Outcome:
    """What a shell sees of one command line: exit code and output."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def slipway(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run one command line in this process, in ``cwd``, as the console script would."""
    monkeypatch.setenv("COLUMNS", "200")

    def call(*args: str, cwd: Path) -> Outcome:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return call


def _subprocess(*args: str, cwd: Path) -> Outcome:
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "slipway", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Outcome(result.returncode, result.stdout, result.stderr)


def _assert_one_line_error(result: Outcome, *needles: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_feature_store_yaml(tmp_path: Path, slipway: Any) -> None:
    result = slipway("features", "plan", "--repo", str(tmp_path), cwd=tmp_path)
    _assert_one_line_error(result, str(tmp_path / "feature_store.yaml"), "not found")


def test_malformed_feature_store_yaml(feature_repo_copy: Path, slipway: Any) -> None:
    (feature_repo_copy / "feature_store.yaml").write_text("project: [unclosed\n")
    result = slipway("features", "apply", "--repo", str(feature_repo_copy), cwd=feature_repo_copy)
    _assert_one_line_error(result, "feature_store.yaml", "invalid YAML")


def test_unknown_field_in_feature_store_yaml_in_a_real_process(feature_repo_copy: Path) -> None:
    """In a real process: this path loads Feast, so a warning or log line its import printed on
    stderr would break the one-line contract here (in-process, pytest captures those)."""
    path = feature_repo_copy / "feature_store.yaml"
    path.write_text(path.read_text() + "online_stor: {type: sqlite}\n")
    result = _subprocess(
        "features", "plan", "--repo", str(feature_repo_copy), cwd=feature_repo_copy
    )
    _assert_one_line_error(result, "feature_store.yaml", "online_stor")


def test_unknown_source(feature_repo_copy: Path, slipway: Any) -> None:
    result = slipway(
        "data", "validate", "nosuch", "--repo", str(feature_repo_copy), cwd=feature_repo_copy
    )
    _assert_one_line_error(result, "nosuch", "driver_hourly_stats")


def test_missing_parquet(feature_repo_copy: Path, slipway: Any) -> None:
    result = slipway(
        "data", "validate", "trips", "--repo", str(feature_repo_copy), cwd=feature_repo_copy
    )
    _assert_one_line_error(result, str(feature_repo_copy / "data" / "trips.parquet"))


def test_corrupt_parquet(feature_repo_copy: Path, slipway: Any) -> None:
    data = feature_repo_copy / "data"
    data.mkdir()
    (data / "trips.parquet").write_bytes(b"PAR1 this is not parquet at all")
    result = slipway(
        "data", "validate", "trips", "--repo", str(feature_repo_copy), cwd=feature_repo_copy
    )
    _assert_one_line_error(result, str(data / "trips.parquet"))


def test_suite_json_that_does_not_parse(feature_repo_copy: Path, slipway: Any) -> None:
    write_demo_data(
        out_dir=feature_repo_copy / "data",
        sizes=DemoSizes(drivers=2, customers=2, days=2, trips=10),
        end=datetime.now(UTC),
    )
    suite = feature_repo_copy / "expectations" / "trips.json"
    suite.write_text('{"name": "trips", "expectations": [')
    result = slipway(
        "data", "validate", "trips", "--repo", str(feature_repo_copy), cwd=feature_repo_copy
    )
    _assert_one_line_error(result, str(suite))


def test_verbose_shows_the_traceback(tmp_path: Path, slipway: Any) -> None:
    result = slipway("--verbose", "features", "plan", "--repo", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_bad_option_value_is_a_usage_error(tmp_path: Path, slipway: Any) -> None:
    result = slipway("features", "materialize", "--end", "yesterday-ish", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "ISO 8601" in result.stderr
