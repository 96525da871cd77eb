"""``slipway monitor run`` on a SageMaker deployment: the capture is read from S3 (moto server).

The manifest's ``data_capture.destination`` is ``s3://capture-bucket/datacapture``; records
are uploaded in SageMaker's layout ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``, one
hour inside the window and one on each side of it, so only the window's hour is read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kits.monitor_project import DESTINATION, ENDPOINT, Project, make_project, sagemaker_records
from kits.servers import AWS_TEST_ENV, moto_server

from ci.retrain_input import findings_of
from foundation.aws import boto3_clients
from model_monitor.simulate import IMPORTANT

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 30, 8, tzinfo=UTC)
BUCKET = "capture-bucket"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch, moto_server() as url:
        for name, value in AWS_TEST_ENV.items():
            patch.setenv(name, value)
        yield url


def _slipway(
    project: Project, url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    variables = {
        **os.environ,
        **AWS_TEST_ENV,
        **project.env,
        "SLIPWAY_AWS_ENDPOINT_URL": url,
        "SLIPWAY_AWS_REGION": "us-east-1",
        "GX_ANALYTICS_ENABLED": "false",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "slipway", *args],
        cwd=project.root,
        env=variables,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _upload(url: str, *, hour: datetime, rows: int, seed: int, shift: float = 0.0) -> None:
    s3 = boto3_clients(region="us-east-1", endpoint_url=url)("s3")
    records, _ = sagemaker_records(
        rows=rows, seed=seed, start=hour, shift={IMPORTANT: shift} if shift else None
    )
    prefix = DESTINATION.removeprefix(f"s3://{BUCKET}/")
    key = f"{prefix}/{ENDPOINT}/AllTraffic/{hour:%Y/%m/%d/%H}/00-00-000-{seed}.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"".join(r.encode() for r in records))


def test_the_window_is_read_from_s3(
    moto_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = make_project(tmp_path_factory.mktemp("monitor-s3"), target="sagemaker")
    boto3_clients(region="us-east-1", endpoint_url=moto_url)("s3").create_bucket(Bucket=BUCKET)
    _upload(moto_url, hour=START - timedelta(hours=1), rows=300, seed=21)
    _upload(moto_url, hour=START, rows=1500, seed=22, shift=0.5)
    _upload(moto_url, hour=START + timedelta(hours=1), rows=300, seed=23)
    out = project.root / "run"
    done = _slipway(
        project, moto_url, "monitor", "run", "dev", "--model", "driver_ranking",
        "--since", "1h", "--until", "2026-11-30T09:00:00Z", "--out", str(out), "--format", "json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["capture"] == f"{DESTINATION}/{ENDPOINT}/AllTraffic/"
    assert doc["window"]["requests"] == 1500
    assert doc["window"]["read"]["files"] == 1
    assert IMPORTANT in doc["drifted_columns"]
    assert (out / "report.html").is_file()
    findings = findings_of(doc, env="dev", model="driver_ranking")
    assert f"baseline_drift_check: {IMPORTANT}" in findings.keys


def test_a_missing_bucket_is_one_error_line(
    moto_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = make_project(tmp_path_factory.mktemp("monitor-s3-none"), target="sagemaker")
    manifest = project.root / "deploy" / "environments" / "dev" / "driver_ranking.yaml"
    manifest.write_text(manifest.read_text().replace(BUCKET, "missing-bucket"))
    done = _slipway(
        project, moto_url, "monitor", "run", "dev", "--model", "driver_ranking",
        "--since", "1h", "--until", "2026-11-30T09:00:00Z", "--out", str(project.root / "o"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["error: s3://missing-bucket: no such bucket (capture destination)"]


def test_ground_truth_kept_in_s3(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    project = make_project(tmp_path_factory.mktemp("monitor-s3-labels"), target="sagemaker")
    s3 = boto3_clients(region="us-east-1", endpoint_url=moto_url)("s3")
    s3.create_bucket(Bucket="labels-bucket")
    s3.create_bucket(Bucket=BUCKET)  # the first test's bucket may be there: emptied
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents") or []:
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    _upload(moto_url, hour=START, rows=200, seed=24)
    prefix = "s3://labels-bucket/groundtruth"
    labels = project.root / "labels.csv"
    labels.write_text("inference_id,label\n" + "".join(f"req-{i},{i % 2}\n" for i in range(120)))
    extra = {"SLIPWAY_MONITOR_GROUND_TRUTH_S3": prefix}
    ingest = ["monitor", "labels", "dev", "--model", "driver_ranking", "--file", str(labels)]
    first = _slipway(project, moto_url, *ingest, "--format", "json", env=extra)
    assert first.returncode == 0, first.stderr
    done = json.loads(first.stdout)
    assert done["written"] == 120
    assert done["uploaded"].startswith(f"{prefix}/{ENDPOINT}/")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="labels-bucket")["Contents"]]
    assert len(keys) == 1
    assert len(keys[0].split("/")) == 7  # groundtruth/endpoint/yyyy/mm/dd/hh/file
    again = json.loads(_slipway(project, moto_url, *ingest, "-f", "json", env=extra).stdout)
    assert (again["written"], again["duplicates"], again["uploaded"]) == (0, 120, None)
    assert not (project.ground_truth).exists()  # nothing kept on this machine
    run = _slipway(
        project, moto_url, "monitor", "run", "dev", "--model", "driver_ranking",
        "--since", "2026-11-30T08:00:00Z", "--until", "2026-11-30T09:00:00Z",
        "--out", str(project.root / "run"), "--format", "json", env=extra,
    )  # fmt: skip
    doc = json.loads(run.stdout)
    assert doc["model_quality"]["labelled_rows"] == 120, doc["warnings"]
