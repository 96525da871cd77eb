"""``slipway monitor``: the failure paths first, then labels and the JSON contract.

Each test builds a small project (:mod:`kits.monitor_project`: manifests, a local registry
with ``driver_ranking:1`` and its baseline) and runs the command line in process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kits.monitor_project import Project, make_project, router_lines

from ci.retrain_input import findings_of
from slipway.cli.app import run

START = datetime(2026, 11, 30, 8, tzinfo=UTC)
WINDOW = ["--since", "2026-11-30T08:00:00Z", "--until", "2026-11-30T09:00:00Z"]


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("monitor")


FAST = "monitoring:\n  evidently_html: false\n"  # no drift.html: a few seconds less per run


@pytest.fixture(scope="module")
def shared(project_dir: Path) -> Project:
    return make_project(project_dir / "shared", monitoring=FAST)


@pytest.fixture
def project(shared: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    for name, value in shared.env.items():
        monkeypatch.setenv(name, value)
    yield shared
    shared.clear_capture()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _json(out: str) -> Any:
    return json.loads(out)


# -- failure paths ------------------------------------------------------------------------------


def test_an_unknown_environment_is_one_line_exit_2(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "monitor", "run", "qa", *WINDOW)
    assert code == 2
    assert _lines(err) == [_lines(err)[0]]
    assert _lines(err)[0].startswith("error: ")
    assert "'qa' is not an environment" in err
    assert out == ""


def test_an_unknown_model_is_one_line_exit_2(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(capsys, "monitor", "run", "dev", "--model", "nope", *WINDOW)
    assert code == 2
    assert len(_lines(err)) == 1
    assert "no manifest of 'nope'" in err


def test_a_bad_since_is_a_usage_error(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "monitor", "run", "dev", "--since", "yesterday")
    assert code == 2
    assert "not a duration (24h, 7d) nor an ISO 8601 time" in err


def test_no_capture_at_all_is_failed_not_a_violation(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["monitor", "run", "dev", "--model", "driver_ranking", *WINDOW, "--out", str(tmp_path)]
    code, out, err = _cli(capsys, *args, "--format", "json")
    assert code == 0, err
    doc = _json(out)
    assert doc["status"] == "Failed"
    assert doc["failure_reason"] == "the capture window holds no rows to analyse"
    assert (doc["env"], doc["model"], doc["version"]) == (
        "dev",
        "driver_ranking",
        "driver_ranking:1",
    )
    assert _lines(err) == [
        "warning: dev/driver_ranking: nothing analysed (status Failed: the capture window "
        "holds no rows to analyse)"
    ]
    assert (tmp_path / "constraint_violations.json").is_file()
    findings = findings_of(doc, env="dev", model="driver_ranking")
    assert not findings.conclusive
    assert not findings.violated


def test_malformed_capture_lines_are_counted_as_warnings(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (path,) = router_lines(project.capture_root, rows=60, seed=3, start=START)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
        handle.write('{"captureData": {}, "eventMetadata": {"eventId": "x", '
                     '"inferenceTime": "2026-11-30T08:30:00Z"}}\n')  # fmt: skip
    args = ["monitor", "run", "dev", "--model", "driver_ranking", *WINDOW, "--out", str(tmp_path)]
    code, out, err = _cli(capsys, *args, "--format", "json")
    assert code in (0, 1), err
    doc = _json(out)
    read = doc["window"]["read"]
    assert (read["corrupt_lines"], doc["window"]["requests"]) == (2, 60)
    joined = " ".join(doc["warnings"])
    assert f"{path}:61: not JSON" in joined
    assert f"{path}:62: captureData holds neither endpointInput nor endpointOutput" in joined


def test_a_version_without_baseline_names_model_and_version(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = make_project(project_dir / "no-baseline", baseline=False)
    for name, value in bare.env.items():
        monkeypatch.setenv(name, value)
    code, out, err = _cli(capsys, "monitor", "run", "dev", "--model", "driver_ranking", *WINDOW)
    assert code == 1
    (line,) = _lines(err)
    assert line.startswith("error: ")
    assert "driver_ranking version 1 has no baseline in the local registry" in line
    assert out == ""


def test_nothing_deployed_is_failed_and_says_why(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = make_project(project_dir / "nothing", baseline=False, model=False)
    for name, value in empty.env.items():
        monkeypatch.setenv(name, value)
    code, out, err = _cli(capsys, "monitor", "run", "dev", *WINDOW, "--format", "json")
    assert code == 0
    (result,) = _json(out)["results"]
    assert result["status"] == "Failed"
    assert result["version"] is None
    assert "model: null" in result["failure_reason"]
    assert "nothing is deployed" in err


# -- labels -------------------------------------------------------------------------------------


def _gt_files(project: Project) -> list[Path]:
    return sorted((project.ground_truth / "dev-driver_ranking").rglob("*.jsonl"))


def test_labels_are_ingested_once_in_the_ground_truth_layout(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "labels.jsonl"
    source.write_text(
        '{"groundTruthData": {"data": "1", "encoding": "CSV"}, '
        '"eventMetadata": {"eventId": "once-a"}, "eventVersion": "0"}\n'
        '{"inference_id": "once-b", "label": 0}\n'
    )
    args = ["monitor", "labels", "dev", "--model", "driver_ranking", "--file", str(source)]
    code, out, _ = _cli(capsys, *args, "--format", "json")
    assert code == 0
    first = _json(out)
    assert (first["records"], first["written"], first["duplicates"]) == (2, 2, 0)
    written = Path(first["path"])
    assert written.relative_to(project.ground_truth / "dev-driver_ranking").parts[0].isdigit()
    assert len(written.relative_to(project.ground_truth).parts) == 6  # endpoint/yyyy/mm/dd/hh/f
    records = [json.loads(line) for line in written.read_text().splitlines()]
    assert records[1] == {
        "groundTruthData": {"data": "0", "encoding": "CSV"},
        "eventMetadata": {"eventId": "once-b"},
        "eventVersion": "0",
    }
    before = _gt_files(project)
    code, out, _ = _cli(capsys, *args, "--format", "json")
    again = _json(out)
    assert code == 0
    assert (again["written"], again["duplicates"], again["path"]) == (0, 2, None)
    assert _gt_files(project) == before


def test_csv_labels_and_a_conflicting_label(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "labels.csv"
    source.write_text("inference_id,label\ncsv-1,1\ncsv-2,0\n")
    args = ["monitor", "labels", "dev", "--model", "driver_ranking", "--file", str(source)]
    assert _cli(capsys, *args)[0] == 0
    source.write_text("inference_id,label\ncsv-1,0\ncsv-3,1\n")
    code, out, _ = _cli(capsys, *args, "--format", "json")
    doc = _json(out)
    assert code == 0
    assert (doc["written"], doc["conflicts"]) == (1, 1)
    assert "kept the first" in doc["warnings"][0]


def test_malformed_label_lines_are_named_and_nothing_is_written(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"id": "ok-1", "label": 1}\nnot json\n\n{"label": 1}\n{"id": "x"}\n')
    before = _gt_files(project)
    code, _, err = _cli(
        capsys, "monitor", "labels", "dev", "--model", "driver_ranking", "--file", str(source)
    )
    assert code == 1
    (line,) = _lines(err)
    assert "3 malformed line(s), nothing ingested" in line
    assert "line 2: not JSON" in line
    assert "line 4: no id" in line
    assert "line 5: no label" in line
    assert _gt_files(project) == before


def test_labels_with_unknown_ids_are_a_warning_of_the_run(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    router_lines(project.capture_root, rows=40, seed=4, start=START)
    source = tmp_path / "unknown.jsonl"
    source.write_text('{"id": "nobody-1", "label": 1}\n{"id": "nobody-2", "label": 0}\n')
    labels = ["monitor", "labels", "dev", "--model", "driver_ranking", "--file", str(source)]
    assert _cli(capsys, *labels)[0] == 0
    args = ["monitor", "run", "dev", "--model", "driver_ranking", "--out", str(tmp_path / "o")]
    code, out, err = _cli(capsys, *args, "--since", "2026-11-30T08:00:00Z", "--format", "json")
    assert code in (0, 1), err
    doc = _json(out)
    assert any("ground-truth records match no captured request" in w for w in doc["warnings"])
    assert doc["model_quality"]["labelled_rows"] == 0


# -- the JSON contract --------------------------------------------------------------------------


def test_json_of_a_run_is_what_ci_retrain_reads(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    router_lines(project.capture_root, rows=50, seed=6, start=START + timedelta(minutes=5))
    args = ["monitor", "run", "dev", *WINDOW, "--out", str(tmp_path), "--format", "json"]
    code, out, err = _cli(capsys, *args)
    assert code in (0, 1), err
    doc = _json(out)
    (only,) = doc["results"]
    assert only["report"] == str(tmp_path / "dev" / "driver_ranking" / "report.html")
    findings = findings_of(doc, env="dev", model="driver_ranking")
    assert findings.version == "driver_ranking:1"
    assert findings.requests == 50
    assert findings.report == only["report"]
    assert findings.violated == (code == 1)
    summary = json.loads((tmp_path / "dev" / "driver_ranking" / "summary.json").read_text())
    assert summary["deployment"] == "dev/driver_ranking"
    assert findings_of(summary, env="dev", model="driver_ranking").requests == 50


def test_text_output_is_one_screen_with_verdict_and_report(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    router_lines(project.capture_root, rows=50, seed=7, start=START)
    code, out, _ = _cli(
        capsys, "monitor", "run", "dev", "--model", "driver_ranking", *WINDOW,
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code in (0, 1)
    assert "dev/driver_ranking" in out
    assert "driver_ranking:1" in out
    assert "verdict: " in out
    assert f"report: {tmp_path / 'report.html'}" in out.replace("\n", "")
    assert len(out.splitlines()) <= 40


# -- the manifest's monitoring block ------------------------------------------------------------


def test_the_manifest_window_is_the_default(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    two_hours = make_project(
        project_dir / "window", monitoring="monitoring:\n  window: 2h\n  evidently_html: false\n"
    )
    for name, value in two_hours.env.items():
        monkeypatch.setenv(name, value)
    router_lines(two_hours.capture_root, rows=40, seed=8, start=START - timedelta(minutes=50))
    args = ["monitor", "run", "dev/driver_ranking", "--until", "2026-11-30T09:00:00Z"]
    code, out, err = _cli(capsys, *args, "--format", "json")
    assert code in (0, 1), err
    doc = _json(out)
    assert doc["window_requested"] == {
        "since": "2026-11-30T07:00:00+00:00",
        "until": "2026-11-30T09:00:00+00:00",
    }
    assert doc["window"]["requests"] == 40
    assert "drift_html" not in doc["files"]


def _stale_result(violation: bool) -> Any:
    from feature_store.freshness import ViewInfo, freshness_of
    from model_deploy.service import Deployer
    from slipway.monitor.deployments import select_deployments
    from slipway.monitor.run import DeploymentResult

    (deployment,) = select_deployments(Deployer(), "dev", model="driver_ranking")
    report = freshness_of(
        [ViewInfo("driver_hourly_stats", 3600), ViewInfo("customer_profile", 7200)],
        newest={"driver_hourly_stats": START - timedelta(hours=2), "customer_profile": START},
        now=START,
    )
    return DeploymentResult(
        deployment, START, START, None, report, stale_violations=violation,
        failure_reason="test",
    )  # fmt: skip


def test_stale_views_are_warnings_by_default(project: Project) -> None:
    doc = _stale_result(violation=False).to_json()
    assert doc["freshness"]["stale"] == ["driver_hourly_stats"]
    assert "feature view driver_hourly_stats is stale (older than its TTL)" in doc["warnings"]
    assert doc["violations"] == []


def test_stale_views_are_violations_when_the_manifest_says_so(project: Project) -> None:
    result = _stale_result(violation=True)
    doc = result.to_json()
    (violation,) = doc["violations"]
    assert violation["feature_name"] == "driver_hourly_stats"
    assert violation["constraint_check_type"] == "feature_freshness_check"
    assert "7200 s old, above its TTL of 3600 s" in violation["description"]
    findings = findings_of(doc, env="dev", model="driver_ranking")
    assert findings.keys == ("feature_freshness_check: driver_hourly_stats",)


def test_the_version_serving_per_the_history_is_monitored(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from model_deploy.service import Deployer
    from model_deploy.store.records import DeploymentRecord

    behind = make_project(project_dir / "behind", monitoring=FAST)
    for name, value in behind.env.items():
        monkeypatch.setenv(name, value)
    manifest = behind.root / "deploy" / "environments" / "dev" / "driver_ranking.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1", "version: 2"))
    record = DeploymentRecord(
        at=START, action="apply", outcome="succeeded", model_ref="driver_ranking:1", version=1,
        manifest_hash="sha256:0", manifest={},
    )  # fmt: skip
    Deployer().store.append_history("dev/driver_ranking", record)
    router_lines(behind.capture_root, rows=30, seed=9, start=START)
    code, out, err = _cli(
        capsys, "monitor", "run", "dev", "-m", "driver_ranking", *WINDOW, "-f", "json"
    )
    assert code in (0, 1), err
    doc = _json(out)
    assert doc["version"] == "driver_ranking:1"
    assert any(
        w.startswith("driver_ranking:1 serves (last deployment 2026-11-30 08:00 UTC), the "
                     "manifest names driver_ranking:2") for w in doc["warnings"]
    )  # fmt: skip


def test_router_lines_outside_the_window_are_counted(tmp_path: Path) -> None:
    from slipway.monitor.capture import load_capture
    from slipway.monitor.deployments import CaptureSource

    root = tmp_path / "capture"
    router_lines(root, rows=10, seed=1, start=START, step=timedelta(minutes=1), endpoint="e")
    source = CaptureSource("local", str(root), "e", "AllTraffic")
    work = tmp_path / "work"
    work.mkdir()
    loaded = load_capture(
        source=source, schema=None, since=START + timedelta(minutes=3),
        until=START + timedelta(minutes=6), work_dir=work,
    )  # fmt: skip
    report = loaded.window.report
    assert (loaded.window.requests, report.records, report.outside_window) == (3, 3, 7)
    assert report.lines == 10
    assert sorted(loaded.window.frame["_inference_time"]) == [
        "2026-11-30T08:03:00Z",
        "2026-11-30T08:04:00Z",
        "2026-11-30T08:05:00Z",
    ]


def test_with_several_deployments_a_failing_one_does_not_stop_the_others(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    two = make_project(project_dir / "two", monitoring=FAST)
    for name, value in two.env.items():
        monkeypatch.setenv(name, value)
    folder = two.root / "deploy" / "environments" / "dev"
    text = (folder / "driver_ranking.yaml").read_text()
    (folder / "trip_fare.yaml").write_text(
        text.replace("name: driver_ranking", "name: trip_fare").replace("18601", "18602")
    )
    router_lines(two.capture_root, rows=30, seed=10, start=START)
    code, out, err = _cli(capsys, "monitor", "run", "dev", *WINDOW, "--format", "json")
    assert code == 1
    by_key = {r["deployment"]: r for r in _json(out)["results"]}
    assert by_key["dev/driver_ranking"]["window"]["requests"] == 30
    assert by_key["dev/driver_ranking"]["error"] is None
    failed = by_key["dev/trip_fare"]
    assert failed["status"] == "Failed"
    assert "trip_fare:1" in failed["error"]
    assert failed["failure_reason"] == f"error: {failed['error']}"
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    assert line.startswith("error: dev/trip_fare: ")
    assert not findings_of(failed, env="dev", model="trip_fare").conclusive


def test_labels_for_an_unknown_model_is_one_line_exit_2(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "labels.jsonl"
    source.write_text('{"id": "a", "label": 1}\n')
    code, out, err = _cli(
        capsys, "monitor", "labels", "dev", "--model", "nope", "--file", str(source)
    )
    assert code == 2
    assert [line for line in err.splitlines() if line.strip()] == [
        "error: dev: dev has no manifest of 'nope' (has: driver_ranking)"
    ]
    assert out == ""


def test_router_records_with_an_inference_id_and_csv_bodies(tmp_path: Path) -> None:
    from model_deploy.targets.local_capture import CaptureTarget, capture_folder, capture_line
    from slipway.monitor.capture import load_capture
    from slipway.monitor.deployments import CaptureSource

    root = tmp_path / "capture"
    at = (START + timedelta(seconds=1, milliseconds=250)).timestamp()
    folder = capture_folder(CaptureTarget(100.0, root, "e", "AllTraffic"), at)
    folder.mkdir(parents=True)
    (folder / "00-01-250-x.jsonl").write_bytes(
        capture_line(
            at=at,
            request=b"0.5,0.9",
            request_type="text/csv",
            response=b"0.25",
            response_type="text/csv",
            inference_id="req-7",
        )
    )
    source = CaptureSource("local", str(root), "e", "AllTraffic")
    loaded = load_capture(
        source=source, schema=None, since=START, until=START + timedelta(hours=1),
        work_dir=tmp_path,
    )  # fmt: skip
    frame = loaded.window.frame
    assert list(frame["_inference_id"]) == ["req-7"]
    assert list(frame["prediction"]) == [0.25]
    assert list(frame["_inference_time"]) == ["2026-11-30T08:00:01Z"]
