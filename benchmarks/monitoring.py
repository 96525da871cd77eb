"""Benchmarks of data capture and monitoring (numbers for docs/monitoring.md).

Two measurements, nothing timed in the test suite:

* ``scale``: writes ``--records`` (default 1,000,000) captured requests in SageMaker's layout
  (``<dir>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``, one request of one row each, the
  inference server's JSON bodies), a baseline of 20,000 training rows, ground truth for 10%
  of the requests, then runs the whole analysis in a child process: list the files, load the
  window into a frame, check constraints, drift (Evidently), model quality, and write every
  output (violations, statistics, summary, both HTML reports). Prints the child's wall time
  and peak RSS: ``ru_maxrss`` (the largest single process) and the sum over the child and
  its worker processes, sampled every 0.1 s.
* ``latency``: the time ``/invocations`` takes in one process with capture off and on (100%),
  the two apps called alternately through ASGI with the same one-row JSON request (the
  capture writer thread running, as in a server), p50/p99/p99.9 of each and the difference,
  and the cost of one ``CaptureWriter.capture`` call.

Usage::

    .venv/bin/python benchmarks/monitoring.py scale [--records 1000000] [--keep DIR]
    .venv/bin/python benchmarks/monitoring.py latency [--requests 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)


# --- scale --------------------------------------------------------------------------------------


def _generate(capture: Path, *, records: int, per_file: int) -> float:
    """Write ``records`` capture records (the last quarter shifted in conv_rate); return seconds."""
    from model_monitor.capture import (
        CapturedPayload,
        CaptureRecord,
        Encoding,
        hour_folder,
        new_event_id,
        variant_folder,
    )
    from model_monitor.simulate import IMPORTANT, driver_frame, driver_labels, driver_scores

    began = time.perf_counter()
    root = variant_folder(capture, endpoint="drivers", variant="AllTraffic")
    files = (records + per_file - 1) // per_file
    for index in range(files):
        count = min(per_file, records - index * per_file)
        shift = {IMPORTANT: 0.5} if index >= files * 3 // 4 else None
        frame = driver_frame(count, seed=10 + index, shift=shift)
        scores = driver_scores(frame)
        labels = driver_labels(scores)
        rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        moment = START + timedelta(hours=index)
        folder = hour_folder(root, moment)
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for i, row in enumerate(rows):
            body = orjson.dumps({"instances": [row]}, option=orjson.OPT_SERIALIZE_NUMPY)
            answer = orjson.dumps(
                {
                    "predictions": [{"probability": float(scores[i]), "label": int(labels[i])}],
                    "model": {"ref": "driver_ranking:3", "digest": "sha256:0"},
                }
            )
            lines.append(
                CaptureRecord(
                    event_id=new_event_id(),
                    inference_time=moment + timedelta(seconds=i * 3600 / count),
                    endpoint_input=CapturedPayload(
                        body.decode(), Encoding.JSON, "application/json", "INPUT"
                    ),
                    endpoint_output=CapturedPayload(
                        answer.decode(), Encoding.JSON, "application/json", "OUTPUT"
                    ),
                    inference_id=f"r{index}-{i}",
                ).encode()
            )
        (folder / f"00-00-000-part{index:03d}.jsonl").write_bytes(b"".join(lines))
    return time.perf_counter() - began


def _ground_truth(capture: Path, labels_file: Path, *, share: float) -> int:
    """Ground truth for ``share`` of the requests (from the captured ids); return the count."""
    import random

    rng = random.Random(0)
    count = 0
    with labels_file.open("wb") as out:
        for path in sorted(capture.rglob("*.jsonl")):
            for line in path.read_bytes().splitlines():
                if rng.random() >= share:
                    continue
                doc = orjson.loads(line)
                key = doc["eventMetadata"]["inferenceId"]
                score = orjson.loads(doc["captureData"]["endpointOutput"]["data"])
                truth = int(rng.random() < score["predictions"][0]["probability"])
                out.write(
                    orjson.dumps(
                        {
                            "groundTruthData": {"data": str(truth), "encoding": "CSV"},
                            "eventMetadata": {"eventId": key},
                            "eventVersion": "0",
                        }
                    )
                    + b"\n"
                )
                count += 1
    return count


def _baseline(folder: Path) -> None:
    from model_monitor.baseline import build_baseline
    from model_monitor.simulate import driver_frame, driver_labels, driver_scores

    frame = driver_frame(20_000, seed=1)
    scores = driver_scores(frame)
    baseline = build_baseline(
        features=frame, prediction=scores, predicted_label=driver_labels(scores)
    )
    baseline.write(directory=folder)


def analyse(capture: Path, baseline_dir: Path, labels_file: Path, out: Path) -> dict[str, Any]:
    """The whole analysis a monitoring run does; returns phase timings."""
    began = time.perf_counter()
    from model_monitor.baseline import load_baseline
    from model_monitor.frame import load_window
    from model_monitor.quality import read_ground_truth
    from model_monitor.reader import capture_files
    from model_monitor.report import run_monitor

    baseline = load_baseline(directory=baseline_dir)
    imported = time.perf_counter()
    files = capture_files(destination=capture, endpoint="drivers", variant="AllTraffic")
    window = load_window(files=files, schema=baseline.schema, workers=min(2, os.cpu_count() or 1))
    loaded = time.perf_counter()
    labels = read_ground_truth(files=[labels_file])
    result = run_monitor(
        window=window,
        baseline=baseline,
        out_dir=out,
        labels=labels,
        registered_metrics={"roc_auc": 0.85, "accuracy": 0.75},
    )
    done = time.perf_counter()
    return {
        "files": len(files),
        "requests": window.requests,
        "rows": window.rows,
        "labels": len(labels),
        "status": result.status,
        "violations": len(result.violations),
        "drifted": list(result.drifted_columns),
        "warnings": list(result.warnings),
        "seconds": {
            "start_and_baseline": round(imported - began, 2),
            "load_window": round(loaded - imported, 2),
            "checks_drift_quality_reports": round(done - loaded, 2),
            "total": round(done - began, 2),
        },
    }


def _scale(args: argparse.Namespace) -> None:
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="slipway-monitor-"))
    capture, baseline, out = work / "capture", work / "baseline", work / "run"
    labels = work / "ground_truth.jsonl"
    if not capture.exists():
        seconds = _generate(capture, records=args.records, per_file=args.per_file)
        size = sum(p.stat().st_size for p in capture.rglob("*.jsonl"))
        print(f"generated {args.records:,} records ({size / 1e6:,.0f} MB) in {seconds:.1f}s")
        print(f"ground truth for {_ground_truth(capture, labels, share=0.1):,} requests")
        _baseline(baseline)
    began = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "analyse", str(capture), str(baseline), str(labels), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )
    tree_peak = 0
    while child.poll() is None:
        tree_peak = max(tree_peak, _tree_rss(child.pid))
        time.sleep(0.1)
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - began
    if child.returncode != 0:
        raise SystemExit(f"analysis failed:\n{stderr[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = json.loads(stdout.strip().splitlines()[-1])
    report.update(
        wall_seconds=round(wall, 2),
        peak_rss_mb=round(peak_mb),
        peak_tree_rss_mb=round(tree_peak / 1024),
    )
    print(json.dumps(report, indent=2))
    print(f"work folder: {work}")


def _tree_rss(pid: int) -> int:
    """Resident KB of a process and all its descendants right now (Linux /proc; 0 elsewhere)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


# --- latency ------------------------------------------------------------------------------------


def _bundle(folder: Path) -> list[dict[str, Any]]:
    """A fitted pipeline bundle on the driver features; returns request rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from model_bundle.bundle import ModelBundle, save_bundle
    from model_monitor.simulate import CATEGORICAL, FEATURES, NUMERIC, driver_frame, driver_scores

    frame = driver_frame(3000, seed=1).fillna(50.0)
    label = (driver_scores(frame) >= 0.5).astype(int)
    prep = ColumnTransformer(
        [("num", StandardScaler(), list(NUMERIC)), ("cat", OneHotEncoder(), list(CATEGORICAL))]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(frame, label)
    save_bundle(ModelBundle(estimator=model, features=list(FEATURES)), directory=folder)
    rows: list[dict[str, Any]] = frame.head(200).astype(object).to_dict(orient="records")
    return rows


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _capture_call_cost(folder: Path, body: bytes) -> float:
    """Microseconds per CaptureWriter.capture call (the request path's share of capture)."""
    from model_monitor.writer import CaptureWriter

    with CaptureWriter(destination=folder, endpoint="bench", max_queue=1_000_000) as writer:
        calls = 20_000
        began = time.perf_counter()
        for _ in range(calls):
            writer.capture(
                input_body=body,
                input_type="application/json",
                output_body=b'{"predictions":[{"probability":0.5,"label":1}]}',
                output_type="application/json",
                inference_id="bench",
            )
        return (time.perf_counter() - began) / calls * 1e6


def _asgi_latency(bundle: Path, bodies: list[bytes], folder: Path) -> dict[str, Any]:
    """Handler time of /invocations in one process, capture off and on, requests interleaved.

    Both apps serve the same bundle in the same process (the capture writer thread runs there,
    as in a real server); each request goes to the off app and then the on app (the order
    flips every request), so machine noise hits both alike. Times exclude the network.
    """
    import asyncio

    from model_monitor.writer import CaptureWriter
    from services.inference.server import create_inference_app

    writer = CaptureWriter(destination=folder, endpoint="bench", max_queue=1_000_000)
    apps = {
        "off": create_inference_app(bundle_dir=bundle),
        "on": create_inference_app(bundle_dir=bundle, capture=writer),
    }
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-sagemaker-inference-id", b"bench"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "root_path": "",
    }

    async def call(app: Any, body: bytes) -> float:
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        began = time.perf_counter()
        await app(dict(scope), receive, send)
        spent = time.perf_counter() - began
        if statuses != [200]:
            raise SystemExit(f"in-process request failed: {statuses}")
        return spent

    async def run() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {"off": [], "on": []}
        for body in bodies[:500]:  # warm up
            for app in apps.values():
                await call(app, body)
        for i, body in enumerate(bodies):
            order = ("off", "on") if i % 2 == 0 else ("on", "off")
            for name in order:
                times[name].append(await call(apps[name], body))
        return times

    times = asyncio.run(run())
    stats = writer.close()
    found: dict[str, Any] = {"requests": len(bodies), "captured": stats.written}
    for label, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999)):
        off, on = _quantile(times["off"], q) * 1000, _quantile(times["on"], q) * 1000
        found[f"{label}_off_ms"] = round(off, 3)
        found[f"{label}_on_ms"] = round(on, 3)
        found[f"{label}_added_ms"] = round(on - off, 3)
    return found


def _latency(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="slipway-latency-"))
    rows = _bundle(work / "bundle")
    bodies = [
        orjson.dumps({"instances": [rows[i % len(rows)]]}, option=orjson.OPT_SERIALIZE_NUMPY)
        for i in range(args.requests)
    ]
    found = _asgi_latency(work / "bundle", bodies * 4, work / "asgi")
    found["capture_call_us"] = round(_capture_call_cost(work / "calls", bodies[0]), 2)
    print(json.dumps(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    scale = commands.add_parser("scale")
    scale.add_argument("--records", type=int, default=1_000_000)
    scale.add_argument("--per-file", type=int, default=50_000)
    scale.add_argument("--keep", help="work folder to reuse (generated data is kept there)")
    latency = commands.add_parser("latency")
    latency.add_argument("--requests", type=int, default=5000)
    child = commands.add_parser("analyse")
    for name in ("capture", "baseline", "labels", "out"):
        child.add_argument(name, type=Path)
    args = parser.parse_args()
    if args.command == "scale":
        _scale(args)
    elif args.command == "latency":
        _latency(args)
    else:
        print(json.dumps(analyse(args.capture, args.baseline, args.labels, args.out)))


if __name__ == "__main__":
    main()
