"""Benchmark of ``slipway predict batch`` (numbers in docs/benchmarks.md, "Batch scoring").

Sets up the demo Feast repo (seeded demo data, applied), builds driver_ranking once (local
registry, no tracking), writes ``--rows`` distinct entity rows (default 1,000,000: demo drivers
and customers, event times spread over the data's last days, a trip distance each), then
measures, in this order:

* ``feast``: Feast's own ``get_historical_features`` through the model's feature service on
  the same rows, in the same chunks the command uses (one call per ``--chunk-rows`` rows: Feast's
  file offline store does not finish 1,000,000 rows in one call on this 2-core machine within
  its memory), summed;
* ``command``: the whole job (:func:`prepare_batch` + :func:`run_batch`: features, predictions,
  chunk files, the final Parquet file), wall time, with its own split into features, predict
  and write;
* ``predict``: the predict part alone on every row's features (one call over the whole frame),
  with 1 thread and with every core (on a shared machine one thread is often the faster),
  rows per second of the faster.

Prints one JSON document with the load average before and after (the machine is shared).

Usage::

    .venv/bin/python benchmarks/batch_predict.py [--rows 1000000] [--chunk-rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
END = datetime(2026, 11, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="slipway-batch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    try:
        report = run(work=work, rows=args.rows, chunk_rows=args.chunk_rows)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report["load_average_before"] = [round(x, 2) for x in load_before]
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


def run(*, work: Path, rows: int, chunk_rows: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from feature_store.demo_data import DemoSizes, write_demo_data
    from feature_store.registry_sync import apply
    from feature_store.repo import FeatureRepo
    from model_build.batch.job import prepare_batch, run_batch
    from model_build.definition.catalog import MODELS_DIR
    from model_build.pipeline.local_runner import run_local
    from model_build.pipeline.steps.gate import NoServingModel
    from model_build.registry.local import LocalRegistry
    from model_bundle.bundle import load_bundle
    from model_bundle.scoring import predict_columns

    repo_path = work / "feature_repo"
    if not (repo_path / "data" / "registry.db").is_file():
        shutil.copytree(
            ROOT / "feature_repo", repo_path, ignore=shutil.ignore_patterns("data", "__pycache__"),
            dirs_exist_ok=True,
        )  # fmt: skip
        write_demo_data(out_dir=repo_path / "data", sizes=DemoSizes(), seed=42, end=END)
    repo = FeatureRepo(path=repo_path, env="local")
    apply(repo=repo)
    registry = LocalRegistry(work / "registry")
    if registry.latest(model_name="driver_ranking", status=None) is None:
        run_local(
            repo=repo, model_path=MODELS_DIR / "driver_ranking", registry=registry,
            run_dir=work / "runs", serving=NoServingModel(reason="benchmark"), now=END,
            git_commit="0" * 40,
        )  # fmt: skip
    version = registry.latest(model_name="driver_ranking", status=None)
    assert version is not None
    rng = np.random.default_rng(7)
    seconds = rng.integers(0, 3 * 24 * 3600, rows)
    entities = pd.DataFrame(
        {
            "request_id": np.arange(rows, dtype=np.int64),
            "driver_id": rng.integers(1001, 1001 + DemoSizes().drivers, rows),
            "customer_id": rng.integers(201, 201 + DemoSizes().customers, rows),
            "event_timestamp": pd.Timestamp(END - timedelta(days=3))
            + pd.to_timedelta(seconds, unit="s"),
            "trip_distance_km": rng.uniform(0.5, 40.0, rows),
        }
    )
    entity_path = work / "entities.parquet"
    entities.to_parquet(entity_path)

    store = repo.open_store()
    service = store.get_feature_service(version.feature_service)
    feast_seconds = 0.0
    frames = []
    for start in range(0, rows, chunk_rows):
        chunk = entities.iloc[start : start + chunk_rows][
            ["driver_id", "customer_id", "event_timestamp", "trip_distance_km", "request_id"]
        ]
        began = time.perf_counter()
        answer = store.get_historical_features(entity_df=chunk, features=service).to_df()
        feast_seconds += time.perf_counter() - began
        frames.append(answer.sort_values("request_id"))
        print(f"feast: {start + len(chunk)} rows, {feast_seconds:.1f} s", file=sys.stderr)
    features = pd.concat(frames, ignore_index=True)

    output = work / "scored.parquet"
    if output.exists():
        output.unlink()
    began = time.perf_counter()
    job = prepare_batch(
        registry=registry, model_name=version.model_name, version=version.version, repo=repo,
        input_path=entity_path, output=output, chunk_rows=chunk_rows, fresh=True,
    )  # fmt: skip
    result = run_batch(job, repo=repo)
    command_seconds = time.perf_counter() - began

    from threadpoolctl import threadpool_limits

    bundle = load_bundle(directory=Path(version.artifact_uri))
    predict_seconds: dict[int, float] = {}
    for threads in (1, os.cpu_count() or 1):
        with threadpool_limits(limits=threads):
            began = time.perf_counter()
            predict_columns(bundle, features)
            predict_seconds[threads] = time.perf_counter() - began
    best = min(predict_seconds.values())
    return {
        "rows": rows,
        "chunk_rows": chunk_rows,
        "model": version.ref,
        "feast_get_historical_features_seconds": round(feast_seconds, 2),
        "command_seconds": round(command_seconds, 2),
        "command_over_feast": round(command_seconds / feast_seconds, 3),
        "command_timings": result.timings,
        "predict_seconds_by_threads": {k: round(v, 3) for k, v in predict_seconds.items()},
        "predict_rows_per_second": round(rows / best),
        "command_predict_rows_per_second": round(result.predict_rows_per_second),
        "output_bytes": output.stat().st_size,
        "cpu_count": os.cpu_count(),
    }


if __name__ == "__main__":
    main()
