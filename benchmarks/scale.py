"""Benchmark: data gate and materialization on 1M and 10M rows, local (pandas) vs Spark.

For each size the demo generator writes ``driver_hourly_stats`` with ``drivers x days x 24``
rows (the ``slipway data generate --drivers N --days D`` data; 30 days, so 1,389 drivers give
1,000,080 rows and 13,889 give 10,000,080) into a temporary feature repo. Then, each in a
fresh process:

* **validate**: the data gate on ``driver_hourly_stats`` (its shipped suite, 29
  expectations): ``validate_sources(engine="pandas")`` against
  ``validate_sources(engine="spark")`` on Spark ``--master`` (default ``local[2]``).
* **materialize**: ``materialize(validate=False)`` of the view over the whole window into a
  ``redis-server`` on 127.0.0.1 (flushed before each run): Feast's local engine and file
  store (``redis`` configuration) against ``spark.engine`` and the Spark offline store
  (``spark`` configuration).

Reported per run: the step's wall seconds (Feast and Great Expectations are imported and the
Spark session is started before the clock starts; the session start is timed apart, as
``session``), and the peak resident memory of the whole process tree (Python, the
JVM, Spark's Python workers) sampled every 100 ms, and the 1-minute load average when the step
ended. A step that fails or runs past ``--step-timeout`` is reported as such (its error's last
line) and the others still run, so one engine that cannot do a size does not hide the other's
numbers. Prints Markdown for docs/scale.md: every run, one line per size and engine, then the
growth from the smallest to the largest size with the straight line through those two points
(fixed seconds plus seconds per million rows), and the load average before and after (other
processes share the machine: compare runs made on a quiet machine only). SIGTERM (e.g. from
``timeout``) stops the running step and the Redis server and removes the generated data.

Usage::

    .venv/bin/python benchmarks/scale.py [--sizes 1000000,10000000] [--master local[2]]
        [--step-timeout 1200]

Needs ``redis-server``, pyspark and Java 17+. Nothing is timed in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
ENGINES = ("local", "spark")
RUNS = 2
"""Runs of each step per process: the first is cold (a fresh JVM compiles as it goes)."""
STEPS = ("validate", "materialize")


def drivers_for(rows: int) -> int:
    """Drivers whose ``drivers x DAYS x 24`` hourly rows reach at least ``rows``."""
    return -(-rows // (DAYS * 24))


class PeakMemory:
    """Samples the resident memory of this process and all its descendants; keeps the peak."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil  # type: ignore[import-untyped]

        self._root = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        for proc in [self._root, *self._root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # a worker that just exited holds no memory any more
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def child(args: argparse.Namespace) -> None:
    """One measured step in this process; prints one JSON line."""
    import feast  # imported before the clock starts: the steps time work, not imports
    import great_expectations  # noqa: F401

    from feature_store.repo import FeatureRepo

    del feast
    with PeakMemory() as memory:
        session = 0.0
        repo = FeatureRepo(path=Path(args.repo), env="spark" if args.engine == "spark" else "redis")
        if args.engine == "spark":
            from feature_store.spark.session import repo_spark_session, session_for

            began = time.perf_counter()
            if args.step == "validate":
                repo_spark_session(repo.path)
            else:
                session_for(repo.config)
            session = time.perf_counter() - began
        runs = []
        for _ in range(RUNS):
            if args.step == "materialize":
                _flush()
            began = time.perf_counter()
            ok = _step(repo, args.step, args.engine)
            runs.append(time.perf_counter() - began)
    print(json.dumps({"seconds": runs, "session": session, "peak": memory.peak, "ok": ok}))


def _step(repo: Any, step: str, engine: str) -> bool:
    """Run one step once; whether the gate passed (always True for materialization)."""
    if step == "validate":
        from feature_store.gate import validate_sources

        (report,) = validate_sources(
            repo_path=repo.path,
            sources=["driver_hourly_stats"],
            now=END,
            engine="spark" if engine == "spark" else "pandas",
        )
        return report.success
    from feature_store.materialization import materialize

    materialize(
        repo=repo,
        start=END - timedelta(days=DAYS + 1),
        end=END,
        views=["driver_hourly_stats"],
        validate=False,
    )
    return True


def _flush() -> None:
    """Empty the Redis server of ``SLIPWAY_REDIS_URL`` (each materialization writes anew)."""
    import redis

    host, port = os.environ["SLIPWAY_REDIS_URL"].split(":")
    with redis.Redis(host=host, port=int(port)) as client:
        client.flushall()


def _measure(
    repo: Path, engine: str, step: str, env: dict[str, str], *, timeout: float
) -> dict[str, Any]:
    """Run one step in a fresh process; its result, or ``{"error": ...}`` if it did not finish.

    The error is the child's last stderr line (e.g. ``MemoryError``, Java's
    ``OutOfMemoryError``), its exit code, or the timeout; a gate that fails on generated data
    ends the benchmark (the data or the suite is wrong, no number would mean anything).
    """
    command = [sys.executable, __file__, "--child", "--repo", str(repo)]
    command += ["--engine", engine, "--step", step]
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s (killed)", "load": _load()}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["(no stderr)"]
        elapsed = time.perf_counter() - began
        return {
            "error": f"exit code {done.returncode} after {elapsed:.0f} s: {lines[-1][:300]}",
            "load": _load(),
        }
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["ok"]:
        raise SystemExit(f"{engine} {step}: the gate failed on generated data")
    result["load"] = _load()
    return result


@contextmanager
def _redis() -> Iterator[int]:
    from foundation.ports import LOOPBACK, free_port

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", LOOPBACK, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
        ).returncode:
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM into SystemExit, so the running step, Redis and the temp data are cleaned."""
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="driver rows, comma-separated")
    parser.add_argument("--master", default="local[2]", help="SLIPWAY_SPARK_MASTER")
    parser.add_argument("--driver-memory", default="4g", help="SLIPWAY_SPARK_DRIVER_MEMORY")
    parser.add_argument(
        "--step-timeout", type=float, default=1200.0, help="seconds per step process"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repo", help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from feature_store.demo_data import DemoSizes, write_demo_data
    from feature_store.registry_sync import apply
    from feature_store.repo import FeatureRepo

    signal.signal(signal.SIGTERM, _on_sigterm)
    print(f"load average before: {_load()}; {os.cpu_count()} cores", flush=True)
    results: dict[tuple[int, str, str], dict[str, Any]] = {}
    with _redis() as port, tempfile.TemporaryDirectory(prefix="slipway-scale-") as tmp:
        env = {
            **os.environ,
            "GX_ANALYTICS_ENABLED": "false",
            "SLIPWAY_REDIS_URL": f"127.0.0.1:{port}",
            "SLIPWAY_SPARK_MASTER": args.master,
            "SLIPWAY_SPARK_DRIVER_MEMORY": args.driver_memory,
        }
        os.environ["SLIPWAY_REDIS_URL"] = env["SLIPWAY_REDIS_URL"]
        for size in (int(s) for s in args.sizes.split(",")):
            repo = Path(tmp) / f"repo-{size}"
            shutil.copytree(
                ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("data", "__pycache__")
            )
            sizes = DemoSizes(drivers=drivers_for(size), customers=200, days=DAYS, trips=20_000)
            began = time.perf_counter()
            write_demo_data(out_dir=repo / "data", sizes=sizes, seed=1, end=END)
            print(f"{size:,} rows: generated in {time.perf_counter() - began:.1f} s", flush=True)
            apply(repo=FeatureRepo(path=repo, env="redis"))
            for step in STEPS:
                for engine in ENGINES:
                    subprocess.run(
                        ["redis-cli", "-p", str(port), "flushall"], check=True, capture_output=True
                    )
                    result = _measure(repo, engine, step, env, timeout=args.step_timeout)
                    results[(size, engine, step)] = result
                    print(f"  {engine:5} {step:11} {_describe(result)}", flush=True)
            shutil.rmtree(repo)
    print(f"load average after: {_load()}\n")
    _report(results)


def _describe(result: dict[str, Any]) -> str:
    """One line for the progress log."""
    if "error" in result:
        return f"FAILED: {result['error']}  load {result['load']}"
    cold, warm = result["seconds"]
    return (
        f"{cold:7.1f} s, again {warm:6.1f} s  session {result['session']:5.1f} s  "
        f"peak {result['peak'] / 2**20:,.0f} MB  load {result['load']}"
    )


def _report(results: dict[tuple[int, str, str], dict[str, Any]]) -> None:
    """Print the Markdown tables for docs/scale.md."""
    print(
        "| rows | step | engine | first run (s) | second run (s) | Spark session start (s) "
        "| peak memory (process tree) | load (1 min) after |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for (size, engine, step), result in results.items():
        if "error" in result:
            print(f"| {size:,} | {step} | {engine} | failed: {result['error']} | | | | |")
            continue
        session = f"{result['session']:.1f}" if engine == "spark" else "-"
        cold, warm = result["seconds"]
        print(
            f"| {size:,} | {step} | {engine} | {cold:.1f} | {warm:.1f} | {session} | "
            f"{result['peak'] / 2**20:,.0f} MB | {result['load'].split()[0]} |"
        )
    sizes_done = sorted({size for size, _, _ in results})
    print(
        "\n| rows | engine | validate (s, first / second) | materialize (s, first / second) "
        "| peak memory | load (1 min) after each step |"
    )
    print("|---:|---|---:|---:|---:|---|")
    for size in sizes_done:
        for engine in ENGINES:
            cells, peaks, loads = [], [], []
            for step in STEPS:
                result = results.get((size, engine, step), {"error": "not run", "load": "-"})
                loads.append(result["load"].split()[0])
                if "error" in result:
                    cells.append("failed")
                    continue
                cells.append(" / ".join(f"{s:.1f}" for s in result["seconds"]))
                peaks.append(result["peak"])
            peak = f"{max(peaks) / 2**30:.1f} GB" if peaks else "-"
            print(
                f"| {size:,} | {engine} | {cells[0]} | {cells[1]} | {peak} | {', '.join(loads)} |"
            )
    if len(sizes_done) < 2:
        return
    small, large = sizes_done[0], sizes_done[-1]
    print(f"\nGrowth from {small:,} to {large:,} rows ({large / small:.0f}x the rows):\n")
    print(
        "| step | engine | time x, first run | time x, second run | memory x "
        "| fixed (s, second run) | per 1M rows (s, second run) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for step in STEPS:
        for engine in ENGINES:
            a, b = results.get((small, engine, step)), results.get((large, engine, step))
            if a is None or b is None or "error" in a or "error" in b:
                print(f"| {step} | {engine} | failed | | | | |")
                continue
            per_row = (b["seconds"][1] - a["seconds"][1]) / (large - small)
            fixed = a["seconds"][1] - per_row * small
            print(
                f"| {step} | {engine} | {b['seconds'][0] / a['seconds'][0]:.1f} | "
                f"{b['seconds'][1] / a['seconds'][1]:.1f} | {b['peak'] / a['peak']:.1f} | "
                f"{fixed:.1f} | {per_row * 1e6:.2f} |"
            )


if __name__ == "__main__":
    main()
