"""``slipway predict batch`` on a real Feast repo: point-in-time features, the server's answers,
resuming after SIGKILL to the same bytes, online features, metadata, and Batch Transform on moto.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from kits.feature_repos import END, copy_repo, materialize_window
from kits.servers import AWS_TEST_ENV, moto_server, reset_moto

from feature_store.demo_data import DemoSizes
from feature_store.registry_sync import apply
from feature_store.repo import FeatureRepo
from model_build.batch.job import prepare_batch, run_batch
from model_build.batch.output import parts_dir, read_metadata
from model_build.batch.transform import start_transform
from model_build.definition.catalog import MODELS_DIR
from model_build.errors import BatchError
from model_build.pipeline.local_runner import run_local
from model_build.pipeline.steps.gate import NoServingModel
from model_build.registry.local import LocalRegistry
from services.inference.server import create_inference_app
from slipway.cli.app import run as slipway

pytestmark = pytest.mark.integration

SIZES = DemoSizes(drivers=30, customers=100, days=10, trips=6_000)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeatureRepo, LocalRegistry, Path]:
    """An applied demo repo, driver_ranking:1 registered, and 3,000 entity rows."""
    base = tmp_path_factory.mktemp("batch")
    repo = copy_repo(base / "feature_repo", sizes=SIZES, seed=5)
    apply(repo=repo)
    registry = LocalRegistry(base / "registry")
    run_local(
        repo=repo, model_path=MODELS_DIR / "driver_ranking", registry=registry,
        run_dir=base / "runs", serving=NoServingModel(reason="first"), now=END,
        git_commit="0" * 40,
    )  # fmt: skip
    trips = pd.read_parquet(repo.path / "data" / "trips.parquet")
    entities = trips[["trip_id", "driver_id", "customer_id", "event_timestamp", "trip_distance_km"]]
    path = base / "entities.parquet"
    entities.iloc[:3000].to_parquet(path)
    return repo, registry, path


def _cli(world: tuple[FeatureRepo, LocalRegistry, Path], out: Path, *extra: str) -> list[str]:
    repo, registry, entities = world
    return [
        "predict", "batch", "--model", "driver_ranking:1", "--input", str(entities),
        "--output", str(out), "--repo", str(repo.path), "--registry-path", str(registry.root),
        *extra,
    ]  # fmt: skip


def test_missing_columns_and_another_jobs_chunks_are_errors(
    world: tuple[FeatureRepo, LocalRegistry, Path], tmp_path: Path
) -> None:
    repo, registry, entities = world
    bad = tmp_path / "bad.parquet"
    pd.read_parquet(entities).drop(columns=["customer_id"]).to_parquet(bad)
    with pytest.raises(BatchError, match=r"missing column\(s\) customer_id"):
        prepare_batch(
            registry=registry, model_name="driver_ranking", version=1, repo=repo,
            input_path=bad, output=tmp_path / "out.parquet",
        )  # fmt: skip
    out = tmp_path / "out.parquet"
    prepare_batch(
        registry=registry, model_name="driver_ranking", version=1, repo=repo,
        input_path=entities, output=out, chunk_rows=1000,
    )  # fmt: skip
    with pytest.raises(BatchError, match="differs in chunk_rows, chunks"):
        prepare_batch(
            registry=registry, model_name="driver_ranking", version=1, repo=repo,
            input_path=entities, output=out, chunk_rows=500,
        )  # fmt: skip
    job = prepare_batch(
        registry=registry, model_name="driver_ranking", version=1, repo=repo,
        input_path=entities, output=out, chunk_rows=500, fresh=True,
    )  # fmt: skip
    assert len(job.chunks) == 6


def test_batch_scores_point_in_time_features_like_the_server(
    world: tuple[FeatureRepo, LocalRegistry, Path], tmp_path: Path
) -> None:
    repo, registry, entities = world
    out = tmp_path / "scored.parquet"
    job = prepare_batch(
        registry=registry, model_name="driver_ranking", version=1, repo=repo,
        input_path=entities, output=out, chunk_rows=1200,
    )  # fmt: skip
    result = run_batch(job, repo=repo)
    assert (result.rows, result.chunks, result.resumed) == (3000, 3, 0)
    assert not parts_dir(out).exists()
    scored = pd.read_parquet(out)
    source = pd.read_parquet(entities)
    pd.testing.assert_frame_equal(scored[source.columns], source)  # the input, in order
    meta = read_metadata(out)
    version = registry.get(model_name="driver_ranking", version=1)
    assert meta["model"] == "driver_ranking:1"
    assert meta["model_digest"] == version.artifact_digest
    assert meta["feature_service"] == "driver_ranking_v1"
    assert meta["feature_service_version"].startswith("sha256:")
    assert meta["source"] == "offline"
    # the same rows, features from Feast directly, answered by the inference server
    store = repo.open_store()
    sample = source.iloc[::97].reset_index(drop=True)
    keys = sample[["driver_id", "customer_id", "event_timestamp", "trip_distance_km"]].copy()
    keys["row"] = range(len(keys))
    features = (
        store.get_historical_features(
            entity_df=keys, features=store.get_feature_service("driver_ranking_v1")
        )
        .to_df()
        .sort_values("row")
        .reset_index(drop=True)
    )
    client = TestClient(create_inference_app(bundle_dir=Path(version.artifact_uri)))
    inputs = features[client.get("/metadata").json()["features"]]
    records = [
        {k: None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in inputs.to_dict(orient="records")
    ]  # exact floats (to_json would round them to 10 digits)
    answer = client.post("/invocations", json={"instances": records}).json()["predictions"]
    mine = scored.iloc[::97].reset_index(drop=True)
    np.testing.assert_allclose(
        mine["probability"], [a["probability"] for a in answer], rtol=0, atol=1e-12
    )
    assert mine["label"].tolist() == [a["label"] for a in answer]


def test_a_run_killed_halfway_resumes_to_the_same_file(
    world: tuple[FeatureRepo, LocalRegistry, Path], tmp_path: Path
) -> None:
    whole = tmp_path / "whole.parquet"
    assert slipway(_cli(world, whole, "--chunk-rows", "250", "--format", "json")) == 0
    killed = tmp_path / "killed.parquet"
    command = [sys.executable, "-m", "slipway", *_cli(world, killed, "--chunk-rows", "250")]
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        parts = parts_dir(killed)
        deadline = time.monotonic() + 480  # a loaded 2-core box
        while len(list(parts.glob("part-*.parquet"))) < 3:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no chunk was written in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    finished = sorted(parts_dir(killed).glob("part-*.parquet"))
    assert 3 <= len(finished) < 12
    assert not killed.exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in finished}
    repo, registry, entities = world
    job = prepare_batch(
        registry=registry, model_name="driver_ranking", version=1, repo=repo,
        input_path=entities, output=killed, chunk_rows=250,
    )  # fmt: skip
    assert job.done == set(range(len(finished)))  # chunks finish in order, each file whole
    for path in finished:  # planning again rewrote nothing
        assert path.stat().st_mtime_ns == stamps[path.name]
    # the same command again (a real process) finishes the job without redoing those chunks
    command = [*command, "--format", "json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert (result["rows"], result["chunks"], result["resumed"]) == (3000, 12, len(finished))
    assert result["threads"] >= 1
    assert killed.read_bytes() == whole.read_bytes()
    assert read_metadata(killed) == read_metadata(whole)


def test_online_features_and_a_csv_output(
    world: tuple[FeatureRepo, LocalRegistry, Path], tmp_path: Path
) -> None:
    repo = world[0]
    materialize_window(repo, days=3)
    out = tmp_path / "online.csv"
    assert slipway(_cli(world, out, "--online", "--format", "json")) == 0
    scored = pd.read_csv(out)
    assert len(scored) == 3000
    assert scored["probability"].between(0, 1).all()
    assert read_metadata(out)["source"] == "online"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_sagemaker_batch_transform_is_created_on_moto(
    world: tuple[FeatureRepo, LocalRegistry, Path],
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    reset_moto(moto_url)
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    s3.create_bucket(Bucket="batch-bucket")
    repo, registry, entities = world
    with pytest.raises(BatchError, match="needs --role-arn"):
        start_transform(
            registry=registry, model_name="driver_ranking", version=1, repo=repo,
            input_path=entities, output_uri="", bucket="batch-bucket", prefix="slipway",
            role_arn=None, image_uri="img", instance_type="ml.m5.large", region="us-east-1",
            endpoint_url=moto_url,
        )  # fmt: skip
    started = start_transform(
        registry=registry, model_name="driver_ranking", version=1, repo=repo,
        input_path=entities, output_uri="", bucket="batch-bucket", prefix="slipway",
        role_arn="arn:aws:iam::123456789012:role/sagemaker",
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway-inference:1",
        instance_type="ml.m5.large", region="us-east-1", endpoint_url=moto_url,
    )  # fmt: skip
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_url, region_name="us-east-1")
    job = sagemaker.describe_transform_job(TransformJobName=started.job_name)
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformInput"]["ContentType"] == "text/csv"
    assert job["DataProcessing"]["JoinSource"] == "Input"
    assert job["DataProcessing"]["InputFilter"] == "$[4:]"
    assert job["TransformOutput"]["S3OutputPath"] == started.output_uri
    body = s3.get_object(Bucket="batch-bucket", Key=started.input_uri.split("/", 3)[3])["Body"]
    lines = body.read().decode().splitlines()
    assert len(lines) == started.rows == 3000
    assert lines[0].split(",")[0] == "0"
    model = sagemaker.describe_model(ModelName=started.job_name)
    assert model["PrimaryContainer"]["ModelDataUrl"] == started.model_data
    assert started.model_data.startswith("s3://batch-bucket/slipway/batch/")


def test_rows_sharing_a_driver_and_second_each_get_their_own_answer(
    world: tuple[FeatureRepo, LocalRegistry, Path], tmp_path: Path
) -> None:
    """Feast's file store keeps one row per (view keys, time); every row is answered anyway."""
    repo, registry, entities = world
    base = pd.read_parquet(entities).iloc[:40].reset_index(drop=True)
    twins = base.copy()
    twins["customer_id"] = (twins["customer_id"] - 201 + 7) % SIZES.customers + 201
    rows = pd.concat([base, twins, base.iloc[:5]], ignore_index=True)  # and exact duplicates
    rows["trip_id"] = range(len(rows))
    path = tmp_path / "twins.parquet"
    rows.to_parquet(path)
    out = tmp_path / "twins-scored.parquet"
    job = prepare_batch(
        registry=registry, model_name="driver_ranking", version=1, repo=repo,
        input_path=path, output=out,
    )  # fmt: skip
    run_batch(job, repo=repo)
    scored = pd.read_parquet(out)
    assert len(scored) == len(rows)
    one_by_one = []
    for index in (0, 40, 80):  # a row, its twin (same driver and time), its exact duplicate
        single = tmp_path / f"single-{index}.parquet"
        rows.iloc[[index]].to_parquet(single)
        done = tmp_path / f"single-{index}-scored.parquet"
        run_batch(
            prepare_batch(
                registry=registry, model_name="driver_ranking", version=1, repo=repo,
                input_path=single, output=done,
            ),
            repo=repo,
        )  # fmt: skip
        one_by_one.append(float(pd.read_parquet(done)["probability"].iloc[0]))
    assert scored["probability"].iloc[[0, 40, 80]].tolist() == one_by_one


def test_env_resolves_the_version_the_manifest_serves(
    world: tuple[FeatureRepo, LocalRegistry, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifests = tmp_path / "environments"
    (manifests / "prod").mkdir(parents=True)
    shutil.copyfile(ROOT / "model_deploy" / "environments.yaml", tmp_path / "environments.yaml")
    template = (ROOT / "model_deploy" / "environments" / "prod" / "driver_ranking.yaml").read_text()
    served = "model:\n  name: driver_ranking\n  version: 1\n  feature_service: driver_ranking_v1\n"
    (manifests / "prod" / "driver_ranking.yaml").write_text(
        template.replace("\nmodel: null\n", f"\n{served}")
    )
    monkeypatch.setenv("SLIPWAY_DEPLOY_MANIFESTS_DIR", str(manifests))
    out = tmp_path / "by-env.parquet"
    args = _cli(world, out, "--format", "json")
    args[args.index("driver_ranking:1")] = "driver_ranking"
    assert slipway([*args, "--env", "prod"]) == 0, capsys.readouterr().err
    assert read_metadata(out)["model"] == "driver_ranking:1"
    assert slipway([*args, "--env", "dev"]) == 1
    assert "dev serves no version of driver_ranking" in capsys.readouterr().err
    assert slipway([*args]) == 2  # no version and no --env: a usage error


@pytest.mark.parametrize(
    ("cores", "load", "threads"), [(2, 0.1, 2), (2, 0.8, 1), (2, 11.0, 1), (8, 3.2, 5), (1, 0, 1)]
)
def test_the_default_model_threads_are_the_cores_the_load_leaves_free(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, threads: int
) -> None:
    from model_build.batch.job import model_threads

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert model_threads() == threads


def test_the_text_mode_draws_a_progress_bar_of_chunks(
    world: tuple[FeatureRepo, LocalRegistry, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "bar.parquet"
    assert slipway(_cli(world, out, "--chunk-rows", "1000")) == 0
    captured = capsys.readouterr()
    assert "Chunk 3/3 (rows 2000-2999)" in captured.err  # the bar, on stderr
    assert "3/3" in captured.err
    assert "Scored 3000 rows" in captured.out
    assert "driver_ranking:1" in captured.out


def test_the_same_command_with_sagemaker_creates_a_batch_transform_job_on_moto(
    world: tuple[FeatureRepo, LocalRegistry, Path],
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("SLIPWAY_AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("SLIPWAY_AWS_REGION", "us-east-1")
    monkeypatch.setenv("SLIPWAY_IMAGE_URI", "123456789012.dkr.ecr.us-east-1.amazonaws.com/inf:1")
    reset_moto(moto_url)
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    s3.create_bucket(Bucket="cli-bucket")
    args = _cli(world, tmp_path / "unused", "--format", "json")
    args[args.index("--output") + 1] = "s3://cli-bucket/scores/"
    role = ["--role-arn", "arn:aws:iam::123456789012:role/sagemaker"]
    assert slipway([*args, "--sagemaker", "--bucket", "cli-bucket", *role]) == 0
    started = json.loads(capsys.readouterr().out)
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_url, region_name="us-east-1")
    job = sagemaker.describe_transform_job(TransformJobName=started["job_name"])
    assert job["TransformOutput"]["S3OutputPath"] == "s3://cli-bucket/scores/"
    assert (started["model"], started["rows"]) == ("driver_ranking:1", 3000)
    assert job["ModelName"] == started["job_name"]
