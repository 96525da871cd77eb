"""Benchmark: cold keys. Random entities over 50,000, so no row cache helps.

Builds one demo repo per store (SQLite, and Redis when ``redis-server`` is installed), writes
``--entities`` drivers and customers into the online store through Feast itself, then drives,
on 127.0.0.1: Slipway's service with one worker, tuned ``feast serve`` (one worker,
``--max-requests 1000000``, no access log) and Slipway's service with two workers. Every
request of ``wrk -t1 -cC --latency`` draws fresh random keys in Lua. Two scenarios: one
entity (a driver and a customer) x 10 features, and 100 entities x 10 features. Rounds are
interleaved (round 1 of every server, then round 2...) and the median run is reported, with
the paired ratios (within a round) of Slipway to Feast and of two workers to one.

Before timing, the servers are checked to answer the same for a sample of random requests.

Usage::

    .venv/bin/python benchmarks/feature_cold_keys.py [--duration 10] [--rounds 3]
    .venv/bin/python benchmarks/feature_cold_keys.py --stores sqlite --scenarios 1 --rounds 1

Needs ``wrk`` on the PATH. Prints numbers only; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the kits import as in the tests: ``kits.*``

from kits.feast_oracle import by_name  # noqa: E402
from kits.feature_repos import END, copy_repo  # noqa: E402
from kits.feature_servers import (  # noqa: E402
    ManagedProcess,
    feast_process,
    redis_process,
    service_process,
)

from feature_store.demo_data import DemoSizes  # noqa: E402
from feature_store.registry_sync import apply  # noqa: E402

DRIVER = ["conv_rate", "acc_rate", "avg_daily_trips", "rating", "cancel_rate", "online_hours"]
CUSTOMER = ["current_balance", "avg_passenger_count", "lifetime_trip_count", "customer_segment"]
FEATURES = [f"driver_hourly_stats:{f}" for f in DRIVER] + [
    f"customer_profile:{f}" for f in CUSTOMER
]
SCENARIOS = {"1": "1 entity x 10 features", "100": "100 entities x 10 features"}
FIRST_ID = 100_000

LUA = """
math.randomseed(os.time() + {seed})
local N = {entities}
local ROWS = {rows}
local FIRST = {first}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local head = '{{"features":{features},"entities":{{"driver_id":['
request = function()
  local d, c = {{}}, {{}}
  for i = 1, ROWS do
    d[i] = FIRST + math.random(0, N - 1)
    c[i] = FIRST + math.random(0, N - 1)
  end
  local body = head .. table.concat(d, ",") .. '],"customer_id":['
    .. table.concat(c, ",") .. ']}}}}'
  return wrk.format(nil, nil, nil, body)
end
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


def write_entities(repo_path: Path, env: str, entities: int) -> None:
    """Apply the repo and write ``entities`` drivers and customers through Feast."""
    import numpy as np
    import pandas as pd

    from feature_store.repo import FeatureRepo

    repo = FeatureRepo(path=repo_path, env=env)
    apply(repo=repo)
    store = repo.open_store()
    rng = np.random.default_rng(7)
    stamp = pd.Timestamp(END) - pd.Timedelta(hours=1)
    chunk = 10_000
    for start in range(0, entities, chunk):
        ids = np.arange(FIRST_ID + start, FIRST_ID + min(entities, start + chunk))
        n = len(ids)
        drivers = pd.DataFrame(
            {
                "driver_id": ids,
                "conv_rate": rng.random(n).astype("float32"),
                "acc_rate": rng.random(n).astype("float32"),
                "avg_daily_trips": rng.integers(0, 50, n),
                "rating": (1 + 4 * rng.random(n)).astype("float32"),
                "cancel_rate": rng.random(n).astype("float32"),
                "online_hours": rng.integers(0, 24, n),
                "event_timestamp": stamp,
                "created": stamp,
            }
        )
        store.write_to_online_store("driver_hourly_stats", drivers)
        customers = pd.DataFrame(
            {
                "customer_id": ids,
                "current_balance": (1000 * rng.random(n)).astype("float32"),
                "avg_passenger_count": (1 + 3 * rng.random(n)).astype("float32"),
                "lifetime_trip_count": rng.integers(0, 500, n),
                "customer_segment": rng.choice(["standard", "plus", "business"], n),
                "tenure_days": rng.integers(0, 2000, n),
                "event_timestamp": stamp,
                "created": stamp,
            }
        )
        store.write_to_online_store("customer_profile", customers)


def run_wrk(
    url: str, *, rows: int, entities: int, seconds: int, connections: int, lua: Path, seed: int
) -> Result:
    lua.write_text(
        LUA.format(
            seed=seed, entities=entities, rows=rows, first=FIRST_ID, features=json.dumps(FEATURES)
        )
    )
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(lua),
        f"{url}/get-online-features",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) ([\d.]+) (\d+) (\d+) (\d+) (\d+)", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests, duration, p50, p95, p99, errors = match.groups()
    return Result(
        int(requests) / float(duration),
        int(p50) / 1000,
        int(p95) / 1000,
        int(p99) / 1000,
        int(errors),
    )


def check_same(servers: dict[str, ManagedProcess], entities: int) -> None:
    """Slipway and Feast answer the same for a sample of random requests (else exit)."""
    rng = random.Random(3)
    for rows in (1, 100):
        for _ in range(5):
            ids = [FIRST_ID + rng.randrange(entities + 10) for _ in range(rows)]
            body = {"features": FEATURES, "entities": {"driver_id": ids, "customer_id": ids}}
            answers = {
                name: by_name(
                    httpx.post(f"{s.url}/get-online-features", json=body, timeout=60).json()
                )
                for name, s in servers.items()
            }
            first = next(iter(answers.values()))
            for name, answer in answers.items():
                if answer != first:
                    raise SystemExit(f"{name} answers differently for {body}")


@contextmanager
def store_env(store: str, base: Path) -> Iterator[dict[str, str]]:
    """The environment a repo of ``store`` needs (a Redis server for ``redis``)."""
    if store != "redis":
        yield {}
        return
    with redis_process() as redis:
        redis.wait_port()
        yield {"SLIPWAY_REDIS_URL": f"127.0.0.1:{redis.port}"}


def median_run(runs: list[Result]) -> Result:
    """The run with the median throughput (its latencies come with it)."""
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def paired(
    runs: dict[tuple[str, str, str], list[Result]], a: tuple[str, str, str], b: tuple[str, str, str]
) -> float:
    ratios = sorted(x.rps / y.rps for x, y in zip(runs[a], runs[b], strict=True))
    return ratios[len(ratios) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per run")
    parser.add_argument("--warmup", type=int, default=2, help="wrk seconds before each run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--entities", type=int, default=50_000)
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument("--scenarios", default="1,100")
    parser.add_argument("--servers", default="slipway,feast,slipway-2")
    parser.add_argument("--keep", type=Path, help="keep the repos and logs in this folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    stores = [s for s in args.stores.split(",") if s != "redis" or shutil.which("redis-server")]
    scenarios = args.scenarios.split(",")
    names = args.servers.split(",")

    with ExitStack() as stack:
        base = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cold-")))
        base.mkdir(parents=True, exist_ok=True)
        targets: dict[tuple[str, str], str] = {}
        for store in stores:
            env = stack.enter_context(store_env(store, base))
            os.environ.update(env)
            repo = base / store
            feast_env = "local" if store == "sqlite" else store
            print(f"{store}: writing {args.entities} entities through Feast...", flush=True)
            copy_repo(
                repo,
                sizes=DemoSizes(drivers=4, customers=4, days=2, trips=10),
                seed=1,
                env=feast_env,
            )
            if store == "redis":
                for name in ("feature_store.yaml",):
                    shutil.copy(repo / "feature_store.redis.yaml", repo / name)
            write_entities(repo, feast_env, args.entities)
            servers: dict[str, ManagedProcess] = {}
            if "slipway" in names:
                servers["slipway"] = service_process(
                    repo=repo, env_name=feast_env, log=base / f"{store}-slipway.log"
                )
            if "slipway-2" in names:
                servers["slipway-2"] = service_process(
                    repo=repo, env_name=feast_env, workers=2, log=base / f"{store}-slipway2.log"
                )
            if "feast" in names:
                servers["feast"] = feast_process(
                    repo=repo,
                    extra_args=["--max-requests", "1000000"],
                    log=base / f"{store}-feast.log",
                )
            for name, server in servers.items():
                stack.enter_context(server)
                server.wait_http("/health", timeout=180)
                targets[(store, name)] = server.url
            check_same(servers, args.entities)

        runs: dict[tuple[str, str, str], list[Result]] = {}
        lua = base / "cold.lua"
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_} of {args.rounds} (load {os.getloadavg()[0]:.2f})", flush=True)
            for store in stores:
                for scenario in scenarios:
                    for name in names:
                        url = targets[(store, name)]
                        common = {
                            "rows": int(scenario),
                            "entities": args.entities,
                            "connections": args.connections,
                            "lua": lua,
                        }
                        if args.warmup:
                            run_wrk(url, seconds=args.warmup, seed=round_, **common)
                        r = run_wrk(url, seconds=args.duration, seed=round_ * 7, **common)
                        runs.setdefault((store, scenario, name), []).append(r)
                        print(
                            f"  {store:7} {SCENARIOS[scenario]:28} {name:10} {r.rps:8.0f} req/s"
                            f"  p50 {r.p50_ms:6.2f}  p99 {r.p99_ms:7.2f} ms  errors {r.errors}",
                            flush=True,
                        )
        print_table(runs, stores, scenarios, args)
        print_validation()


Runs = dict[tuple[str, str, str], list[Result]]


def print_table(
    runs: Runs, stores: list[str], scenarios: list[str], args: argparse.Namespace
) -> None:
    load = os.getloadavg()
    print()
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration}s, random keys over {args.entities:,} "
        f"entities, median of {args.rounds} interleaved rounds, {os.cpu_count()} CPUs, "
        f"load average after the runs {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    )
    print()
    print(
        "| store | scenario | Slipway req/s | feast serve req/s | ratio | Slipway p50 ms "
        "| Slipway p99 ms | 2 workers req/s | 2 workers / 1 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for store in stores:
        for scenario in scenarios:
            ours = median_run(runs[(store, scenario, "slipway")])
            feast = runs.get((store, scenario, "feast"))
            two = runs.get((store, scenario, "slipway-2"))
            one = (store, scenario, "slipway")
            ratio = f"{paired(runs, one, (store, scenario, 'feast')):.1f}x" if feast else "-"
            scale = f"{paired(runs, (store, scenario, 'slipway-2'), one):.2f}x" if two else "-"
            feast_rps = median_run(feast).rps if feast else 0
            two_rps = median_run(two).rps if two else 0
            print(
                f"| {store} | {SCENARIOS[scenario]} | {ours.rps:,.0f} | {feast_rps:,.0f} | "
                f"{ratio} | {ours.p50_ms:.2f} | {ours.p99_ms:.2f} | {two_rps:,.0f} | {scale} |"
            )


def print_validation() -> None:
    """Time the gate of a 100-row push: the compiled suite of driver_hourly_stats."""
    import statistics
    import time

    from services.feature_server.expectations import load_validator

    validator = load_validator(ROOT / "feature_repo", "driver_hourly_stats")
    assert validator is not None
    stamp = END.isoformat()
    columns: dict[str, list[object]] = {
        "driver_id": list(range(1001, 1101)),
        **{f: [0.5] * 100 for f in ("conv_rate", "acc_rate", "cancel_rate")},
        "rating": [4.0] * 100,
        "avg_daily_trips": [3] * 100,
        "online_hours": [5] * 100,
        "event_timestamp": [stamp] * 100,
        "created": [stamp] * 100,
    }
    times = []
    for _ in range(2000):
        started = time.perf_counter()
        assert not validator.validate(columns, 100)
        times.append(time.perf_counter() - started)
    print()
    print(
        f"gated write: validating a 100-row push against driver_hourly_stats "
        f"({len(validator.checks)} row-level expectations): median "
        f"{statistics.median(times) * 1e6:.0f} us, p99 {sorted(times)[1980] * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
