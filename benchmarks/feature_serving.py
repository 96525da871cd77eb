"""Benchmark: Slipway's feature service vs ``feast serve`` vs a bare FastAPI ceiling.

Builds a demo repo (SQLite online store) in a temp folder and starts, on 127.0.0.1 and with the
same worker count: ``feast serve`` (defaults, and without worker recycling), Slipway's service
(row cache on and off) and one bare FastAPI app per scenario that answers that scenario's
response bytes. Checks that Slipway and Feast answer the same, then drives every server with
``wrk -t1 -cC -dDs --latency`` and a Lua script that POSTs the request body, in interleaved
rounds so that drift in machine speed hits every server alike. Prints req/s and p50/p95/p99 of
the median run per server and scenario, as Markdown for docs/benchmarks.md.

With ``--startup N`` it times start-up instead: N starts of Slipway's service with 1 and with 2
workers (bytecode caching on, after one warm-up start), and for each worker the median time
from the process start, and from the worker's own start, to its first 200 on ``/readyz``.

Usage::

    .venv/bin/python benchmarks/feature_serving.py [--duration 10] [--rounds 3] [--connections 8]
    .venv/bin/python benchmarks/feature_serving.py --startup 5

Needs ``wrk`` on the PATH (not for ``--startup``). Nothing is timed in the test suite; this
script only prints numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the kits import as in the tests: ``kits.*``

from kits.feast_oracle import by_name  # noqa: E402
from kits.feature_repos import demo_repo  # noqa: E402
from kits.feature_servers import ManagedProcess, feast_process, service_process  # noqa: E402

from feature_store.demo_data import DemoSizes  # noqa: E402
from foundation.ports import free_port  # noqa: E402

SIZES = DemoSizes(drivers=200, customers=400, days=3, trips=100)
DRIVER = ["conv_rate", "acc_rate", "avg_daily_trips", "rating", "cancel_rate", "online_hours"]
CUSTOMER = ["current_balance", "avg_passenger_count", "lifetime_trip_count", "customer_segment"]

SCENARIOS: dict[str, dict[str, object]] = {
    "1 entity x 3 features": {
        "features": [f"driver_hourly_stats:{f}" for f in DRIVER[:3]],
        "entities": {"driver_id": [1001]},
    },
    "1 entity x driver_ranking_v1 (13, ODFV)": {
        "feature_service": "driver_ranking_v1",
        "entities": {"driver_id": [1001], "customer_id": [201], "trip_distance_km": [4.2]},
    },
    "100 entities x 10 features": {
        "features": [f"driver_hourly_stats:{f}" for f in DRIVER]
        + [f"customer_profile:{f}" for f in CUSTOMER],
        "entities": {
            "driver_id": list(range(1001, 1101)),
            "customer_id": list(range(201, 301)),
        },
    },
}

CEILING_APP = """
import os
from pathlib import Path

from fastapi import FastAPI, Request, Response

app = FastAPI()
BODY = Path(os.environ["CEILING_BODY"]).read_bytes()


@app.post("/get-online-features")
async def constant(request: Request) -> Response:
    await request.body()
    return Response(content=BODY, media_type="application/json")
"""
"""The ceiling reads the request and answers the scenario's own response bytes, prebuilt: the
cost of HTTP, the framework and moving that many bytes, with no feature work at all."""

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %.3f %d %d %d %d\\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), errors))
end
"""


@dataclass(frozen=True)
class Result:
    """One wrk run."""

    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int


def build_repo(base: Path) -> Path:
    return demo_repo(base / "feature_repo", sizes=SIZES, seed=42, days=4).path


def run_wrk(
    url: str, body: dict[str, object], *, seconds: int, connections: int, lua: Path
) -> Result:
    lua.write_text(LUA.replace("{body}", json.dumps(body, separators=(",", ":"))))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) ([\d.]+) (\d+) (\d+) (\d+) (\d+)", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests, duration, p50, p95, p99, errors = match.groups()
    return Result(
        rps=int(requests) / float(duration),
        p50_ms=int(p50) / 1000,
        p95_ms=int(p95) / 1000,
        p99_ms=int(p99) / 1000,
        errors=int(errors),
    )


def answers(raw: dict[str, bytes]) -> dict[str, dict[str, object]]:
    """Each scenario's response, by column name (order-insensitive, for comparing servers)."""
    return {name: by_name(json.loads(body)) for name, body in raw.items()}


CEILING = "bare FastAPI (ceiling)"
TINY_CEILING = "bare FastAPI, 150 B constant"
TINY_BODY = (
    b'{"results":[{"values":[1001],"statuses":["PRESENT"],'
    b'"event_timestamps":["1970-01-01T00:00:00Z"]}],'
    b'"metadata":{"feature_names":["driver_id","conv_rate"]}}'
)
"""The ceiling of earlier runs: the same app answering one small constant for every scenario."""
TUNED_FEAST = "feast serve --max-requests 1e6"


def raw_answers(url: str) -> dict[str, bytes]:
    return {
        name: httpx.post(f"{url}/get-online-features", json=body, timeout=30).content
        for name, body in SCENARIOS.items()
    }


def measure(url: str, body: dict[str, object], *, args: argparse.Namespace, lua: Path) -> Result:
    """Warm up, then run wrk once against the online route."""
    target = f"{url}/get-online-features"
    if args.warmup:
        run_wrk(target, body, seconds=args.warmup, connections=args.connections, lua=lua)
    return run_wrk(target, body, seconds=args.duration, connections=args.connections, lua=lua)


def report(server: str, scenario: str, r: Result) -> None:
    print(f"  {server:28} {scenario:40} {r.rps:9.0f} req/s  p50 {r.p50_ms:7.2f}  "
          f"p95 {r.p95_ms:7.2f}  p99 {r.p99_ms:7.2f} ms  errors {r.errors}",
          flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2, help="wrk seconds before each run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; the median run is reported"
    )
    parser.add_argument(
        "--startup", type=int, default=0, metavar="N", help="time N start-ups instead"
    )
    args = parser.parse_args()
    if args.startup:
        startup(args.startup)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp, ExitStack() as stack:
        base = Path(tmp)
        print("building the demo repo (apply + materialize)...", flush=True)
        repo = build_repo(base)
        servers = {
            "feast serve": feast_process(repo=repo, workers=args.workers, log=base / "feast.log"),
            TUNED_FEAST: feast_process(
                repo=repo,
                workers=args.workers,
                extra_args=["--max-requests", "1000000"],
                log=base / "feast-tuned.log",
            ),
            "slipway": service_process(repo=repo, workers=args.workers, log=base / "slipway.log"),
            "slipway, row cache off": service_process(
                repo=repo,
                workers=args.workers,
                extra_env={"SLIPWAY_SERVER_SQLITE_CACHE_ENTRIES": "0"},
                log=base / "slipway-nocache.log",
            ),
        }
        for name, server in servers.items():
            stack.enter_context(server)
            server.wait_port(timeout=120)
            server.wait_http("/health" if name.startswith("feast") else "/healthz", timeout=120)
        expected = answers(raw_answers(servers["feast serve"].url))
        responses = raw_answers(servers["slipway"].url)
        for name in ("slipway", "slipway, row cache off"):
            raw = responses if name == "slipway" else raw_answers(servers[name].url)
            if answers(raw) != expected:
                raise SystemExit(f"{name} and feast serve disagree on a scenario")
        ceilings = start_ceilings(base, responses, args, stack)

        runs: dict[tuple[str, str], list[Result]] = {}
        lua = base / "post.lua"
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_} of {args.rounds}", flush=True)
            for scenario, body in SCENARIOS.items():
                targets = {
                    **{n: s.url for n, s in servers.items()},
                    CEILING: ceilings[scenario],
                    TINY_CEILING: ceilings[TINY_CEILING],
                }
                for name, url in targets.items():
                    result = measure(url, body, args=args, lua=lua)
                    runs.setdefault((name, scenario), []).append(result)
                    report(name, scenario, result)
        print_tables(runs, args)


def startup(runs: int) -> None:
    """Print the median start-up of each worker over ``runs`` starts, for 1 and 2 workers."""
    from kits.startup import worker_starts

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measured with bytecode caching on
    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp:
        repo = build_repo(Path(tmp))
        print("| workers | worker | since process start, s | since worker start, s |")
        print("|---:|---:|---:|---:|")
        for workers in (1, 2):
            server = service_process(repo=repo, workers=workers)
            measure_once = partial(
                worker_starts, server.args, port=server.port, workers=workers, env=server.env
            )
            measure_once()  # warm-up: writes the bytecode caches
            starts = [measure_once() for _ in range(runs)]
            for index in range(workers):
                total = statistics.median(run[index].ready for run in starts)
                own = statistics.median(run[index].ready_after_start for run in starts)
                print(f"| {workers} | {index + 1} | {total:.2f} | {own:.2f} |", flush=True)


def start_ceilings(
    base: Path, responses: dict[str, bytes], args: argparse.Namespace, stack: ExitStack
) -> dict[str, str]:
    """One bare FastAPI process per scenario answering that scenario's response bytes, plus one
    answering the small constant of earlier runs (keyed ``TINY_CEILING``)."""
    (base / "ceiling.py").write_text(CEILING_APP)
    urls: dict[str, str] = {}
    bodies = {**responses, TINY_CEILING: TINY_BODY}
    for index, scenario in enumerate(bodies):
        body_file = base / f"response-{index}.json"
        body_file.write_bytes(bodies[scenario])
        port = free_port()
        ceiling = ManagedProcess(
            [sys.executable, "-m", "uvicorn", "ceiling:app", "--app-dir", str(base),
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
             "--loop", "uvloop", "--http", "httptools", "--no-access-log",
             "--log-level", "warning"],
            port=port,
            env={"CEILING_BODY": str(body_file)},
            log=base / f"ceiling-{index}.log",
        )  # fmt: skip
        stack.enter_context(ceiling)
        ceiling.wait_port(timeout=120)
        urls[scenario] = ceiling.url
    return urls


def median_run(runs: list[Result]) -> Result:
    """The run with the median throughput (its latencies and errors come with it)."""
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def print_tables(runs: dict[tuple[str, str], list[Result]], args: argparse.Namespace) -> None:
    """Print the median run per server and scenario, then throughput ratios.

    A ratio is computed within each round (the two runs were minutes apart at most), and the
    median of those paired ratios is shown, so drift in machine speed between rounds cancels.
    """
    results = {key: median_run(found) for key, found in runs.items()}
    load = os.getloadavg()
    print()
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration}s --latency, median of {args.rounds} "
        f"interleaved rounds, {args.workers} worker(s), "
        f"{os.cpu_count()} CPUs, load average before the table {load[0]:.2f}"
    )
    print()
    print("| scenario | server | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    servers = list(dict.fromkeys(server for server, _ in results))
    for scenario in SCENARIOS:
        for server in servers:
            r = results[(server, scenario)]
            print(
                f"| {scenario} | {server} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p95_ms:.2f} | "
                f"{r.p99_ms:.2f} | {r.errors} |"
            )
    print()
    print(f"Throughput ratios (median over the {args.rounds} rounds of the ratio within a round):")
    print()
    print(
        "| scenario | server | vs feast serve | vs feast serve --max-requests 1e6 | vs ceiling "
        "| vs 150 B constant |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for scenario in SCENARIOS:
        for server in ("slipway", "slipway, row cache off"):
            ratios = [
                paired_ratio(runs, server, other, scenario)
                for other in ("feast serve", TUNED_FEAST, CEILING, TINY_CEILING)
            ]
            print(
                f"| {scenario} | {server} | {ratios[0]:.1f}x | {ratios[1]:.1f}x | "
                f"{ratios[2]:.0%} | {ratios[3]:.0%} |"
            )


def paired_ratio(
    runs: dict[tuple[str, str], list[Result]], server: str, other: str, scenario: str
) -> float:
    """Median over rounds of ``server`` req/s divided by ``other`` req/s in the same round."""
    ours, theirs = runs[(server, scenario)], runs[(other, scenario)]
    ratios = sorted(a.rps / b.rps for a, b in zip(ours, theirs, strict=True))
    return ratios[len(ratios) // 2]


if __name__ == "__main__":
    main()
