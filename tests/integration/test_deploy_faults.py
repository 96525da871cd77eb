"""Deploy safety under failure with real processes (issue 11): kills, edits, bakes, shared state.

- fault 5: ``slipway deploy apply`` (a subprocess, linear strategy) is SIGKILLed at each traffic
  step and while it stops the old version; ``status`` then finds the interrupted run and
  reconciles it, ``apply`` converges again; a client polling the router the whole time never
  gets a failed answer, and no process outlives the state it belongs to (serial: it measures
  traffic).
- fault 6: ``target.json`` edited by hand is drift, and apply is not a no-op.
- fault 11: two runners (two state folders) share the lock and the history through S3 (moto).
- fault 12: a canary whose new backend fails requests is rolled back, the model's fault.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "model_deploy"))

from deploy_support import (
    STANDIN_SERVER,
    FakeRegistry,
    Poller,
    kill_spawned,
    local_manifest,
    make_deployer,
    register_version,
    server_command,
    write_manifest,
)
from fake_target import FakeTarget
from kits.servers import AWS_TEST_ENV, moto_server, reset_moto

from foundation.ports import free_port
from model_build.registry.local import LocalRegistry
from model_deploy.apply import run_apply
from model_deploy.rollback import run_rollback
from model_deploy.service import Deployer
from model_deploy.settings import DeploySettings
from model_deploy.status import status_all
from model_deploy.store.protocol import holding_lock
from model_deploy.targets import processes
from model_deploy.targets.local import LocalTarget
from model_deploy.targets.local_state import (
    ROOT_VARIABLE,
    EnvFiles,
    live_weights,
    read_state,
    router_status,
    write_state,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LINEAR = "{type: linear, step_percent: 25, interval_minutes: 0.03}"  # 4 steps, 1.8 s bakes


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalRegistry, Path]:
    root = tmp_path_factory.mktemp("faults-registry")
    registry = LocalRegistry(root / "registry")
    register_version(registry, root, seed=1)
    register_version(registry, root, seed=2, metrics={"roc_auc": 0.84, "log_loss": 0.41})
    return registry, root / "registry"


def marked(files: EnvFiles) -> set[int]:
    """Every process group the local target started for this environment, still alive."""
    return processes.marked_groups(variable=ROOT_VARIABLE, value=files.marker)


def kill_marked(files: EnvFiles) -> None:
    for group in marked(files):
        processes.stop_group(group, variable=ROOT_VARIABLE, value=files.marker, timeout=2)


# -- fault 5: an apply killed mid-canary left a hidden split and an orphan --------------------


class Cli:
    """``python -m slipway deploy ...`` in a subprocess, on the test's folders."""

    def __init__(self, tmp_path: Path, registry_root: Path) -> None:
        self.manifests = tmp_path / "manifests"
        self.state = tmp_path / "state"
        self.environ = {
            **os.environ,
            "SLIPWAY_DEPLOY_MANIFESTS_DIR": str(self.manifests),
            "SLIPWAY_DEPLOY_STATE_DIR": str(self.state),
            "SLIPWAY_DEPLOY_SERVER_COMMAND": json.dumps(server_command()),
            "SLIPWAY_REGISTRY_PATH": str(registry_root),
            "SLIPWAY_GIT_SHA": "fault-test",
        }
        self.environ.pop("SLIPWAY_REGISTRY", None)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "slipway", "deploy", *args]

    def run(self, *args: str) -> tuple[int, Any]:
        done = subprocess.run(
            self.command(*args, "-f", "json"),
            capture_output=True,
            text=True,
            env=self.environ,
            timeout=120,
            check=False,
        )
        try:
            return done.returncode, json.loads(done.stdout)
        except ValueError:
            pytest.fail(f"not JSON (exit {done.returncode}): {done.stdout!r} {done.stderr!r}")

    def apply_until(self, marker: str, *, linger: float) -> tuple[list[str], int]:
        """Start an apply, SIGKILL it ``linger`` s after a stderr line holds ``marker``."""
        proc = subprocess.Popen(
            self.command("apply", "dev"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environ,
        )
        seen: list[str] = []
        try:
            deadline = time.monotonic() + 90
            assert proc.stderr is not None
            while time.monotonic() < deadline:
                line = proc.stderr.readline()
                if not line:
                    break
                seen.append(line.strip())
                if marker in line:
                    time.sleep(linger)
                    proc.send_signal(signal.SIGKILL)
                    break
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        return seen, proc.returncode


@pytest.mark.serial
def test_fault_05_a_killed_apply_at_each_step_is_reconciled_with_zero_failed_requests(
    tmp_path: Path, registry: tuple[LocalRegistry, Path]
) -> None:
    _, registry_root = registry
    cli = Cli(tmp_path, registry_root)
    port = free_port()
    files = EnvFiles(cli.state / "dev" / "driver_ranking")
    measured: dict[str, Any] = {"kills": []}

    def put(version: int) -> None:
        write_manifest(
            cli.manifests, "dev", local_manifest("dev", version=version, port=port, strategy=LINEAR)
        )

    try:
        put(1)
        code, first = cli.run("apply", "dev")
        assert (code, first["outcome"]) == (0, "applied"), first
        with Poller(port) as poller:
            serving = 1
            for marker in ("step 1/4", "step 2/4", "step 3/4", "verified; stopping"):
                desired = 3 - serving
                put(desired)
                # a step's line is printed before its split goes live; 0.6 s later it bakes
                lines, code = cli.apply_until(marker, linger=0.6 if "step" in marker else 0.0)
                assert code == -signal.SIGKILL, lines
                state = read_state(files)[0]
                split = live_weights(router_status(state.router.port) if state.router else None)
                measured["kills"].append(
                    {
                        "at": marker,
                        "weights_after_kill": split,
                        "processes_after_kill": len(marked(files)),
                    }
                )
                if marker.startswith("step"):
                    assert len([w for w in split.values() if w > 0]) == 2, (marker, split, lines)
                code, (status,) = cli.run("status")
                assert "found an interrupted apply" in (status["recovered"] or "")
                assert status["in_progress"] is None
                assert not any("split" in line for line in status["drift"]), status
                state = read_state(files)[0]
                assert state.router is not None
                assert state.active is not None
                assert state.candidate is None
                weights = live_weights(router_status(state.router.port))
                assert weights == {state.active.port: 100.0}, "no hidden split"
                assert marked(files) == {state.router.pid, state.active.pid}, "no orphan"
                after = status["serving_ref"]
                assert after in (f"driver_ranking:{serving}", f"driver_ranking:{desired}")
                assert status["healthy"]
                code, again = cli.run("apply", "dev")
                assert (code, again["outcome"], again["now_serving"]) == (
                    0,
                    "applied" if after != f"driver_ranking:{desired}" else "no-op",
                    f"driver_ranking:{desired}",
                ), again
                state = read_state(files)[0]
                assert marked(files) == {state.router.pid, state.active.pid}
                measured["kills"][-1]["status_serving"] = after
                serving = desired
            time.sleep(0.3)
        measured["requests"] = len(poller.digests) + len(poller.failures)
        measured["failed"] = len(poller.failures)
        (tmp_path / "fault-05.json").write_text(json.dumps(measured, indent=2))
        print("\nfault 5 measured:", json.dumps(measured))
        assert poller.failures == [], poller.failures[:5]
        assert measured["requests"] > 100
        path = cli.state / "dev" / "driver_ranking" / "history.jsonl"
        history = [json.loads(line) for line in path.open()]
        assert sum(1 for r in history if r.get("interrupted")) == 4
    finally:
        kill_marked(files)


# -- fault 6: status trusted the state file ----------------------------------------------------


@pytest.fixture
def local_env(
    tmp_path: Path, registry: tuple[LocalRegistry, Path]
) -> Iterator[tuple[Deployer, int]]:
    deployer = make_deployer(tmp_path, registry[0])
    try:
        yield deployer, free_port()
    finally:
        kill_spawned()
        kill_marked(EnvFiles(deployer.state_dir / "dev" / "driver_ranking"))


def test_fault_06_a_hand_edited_target_json_is_drift_and_apply_is_not_a_noop(
    local_env: tuple[Deployer, int], registry: tuple[LocalRegistry, Path]
) -> None:
    deployer, port = local_env
    manifests = Path(deployer.settings.deploy_manifests_dir)
    write_manifest(manifests, "dev", local_manifest("dev", version=1, port=port))
    assert run_apply(deployer, "dev").outcome == "applied"
    write_manifest(manifests, "dev", local_manifest("dev", version=2, port=port))
    v2 = registry[0].get(model_name="driver_ranking", version=2)
    files = EnvFiles(deployer.state_dir / "dev" / "driver_ranking")
    state = read_state(files)[0]
    assert state.active is not None
    forged = state.active.model_copy(
        update={
            "version": 2,
            "artifact_digest": v2.artifact_digest,
            "manifest_hash": deployer.plan("dev").manifest_hash,
        }
    )
    write_state(files, state.model_copy(update={"active": forged}))  # "v2 is deployed"
    (status,) = status_all(deployer)
    assert not status.in_sync
    assert status.serving_ref == "driver_ranking:1"
    assert any("answers /metadata with driver_ranking:1" in line for line in status.drift)
    plan = deployer.plan("dev")
    assert plan.action == "update"
    outcome = run_apply(deployer, "dev")
    assert (outcome.outcome, outcome.now_serving) == ("applied", "driver_ranking:2")
    assert status_all(deployer)[0].in_sync


# -- fault 12: canaries only checked /ping ----------------------------------------------------


def test_fault_12_a_canary_failing_requests_is_rolled_back_as_the_models_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = FakeRegistry(tmp_path / "registry")
    register_version(registry, tmp_path, seed=1)
    bad = register_version(registry, tmp_path, seed=7)  # answers 500 to every 3rd request
    monkeypatch.setenv("STANDIN_FAIL_SEEDS", "7")
    monkeypatch.setenv("STANDIN_FAIL_EVERY", "3")
    deployer = make_deployer(tmp_path, registry)
    deployer._targets["local"] = LocalTarget(
        state_dir=deployer.state_dir, server_command=[sys.executable, str(STANDIN_SERVER)]
    )
    port = free_port()
    manifests = Path(deployer.settings.deploy_manifests_dir)
    canary = "{type: canary, percent: 50, bake_minutes: 0.1}"
    bake = "bake: {max_error_rate: 0.05, min_requests: 10}\n"
    try:
        write_manifest(manifests, "dev", local_manifest("dev", version=1, port=port))
        assert run_apply(deployer, "dev").outcome == "applied"
        write_manifest(
            manifests,
            "dev",
            local_manifest("dev", version=2, port=port, strategy=canary, extra=bake),
        )
        stop = threading.Event()

        def traffic() -> None:  # a client; some answers fail while the bad canary serves
            row = {"conv_rate": 0.5, "acc_rate": 0.5, "avg_daily_trips": 3}
            while not stop.is_set():
                with contextlib.suppress(OSError):  # the answers are the router's counters' job
                    processes.request_json(
                        port=port, method="POST", path="/invocations", payload={"instances": [row]}
                    )

        client = threading.Thread(target=traffic, daemon=True)
        client.start()
        try:
            outcome = run_apply(deployer, "dev")
        finally:
            stop.set()
            client.join(10)
        assert (outcome.outcome, outcome.cause, outcome.rejects) == (
            "rolled-back",
            "model",
            bad.ref,
        ), outcome.reasons
        assert "while baking" in outcome.reasons[0]
        assert outcome.now_serving == "driver_ranking:1"
        assert [r.passed for r in outcome.smoke_tests] == [True, True]  # smoke tests passed
    finally:
        kill_spawned()
        kill_marked(EnvFiles(deployer.state_dir / "dev" / "driver_ranking"))


# -- fault 11: lock and history lived on one runner's disk --------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_fault_11_two_runners_share_the_lock_and_the_history_through_s3(
    tmp_path: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    reset_moto(moto_url)
    from foundation.aws import boto3_clients

    boto3_clients(region="us-east-1", endpoint_url=moto_url)("s3").create_bucket(
        Bucket="slipway-state"
    )
    registry = FakeRegistry(tmp_path / "registry")
    for seed in (1, 2):
        register_version(registry, tmp_path, seed=seed)
    target = FakeTarget()  # the one endpoint both runners deploy to

    def runner(name: str) -> Deployer:
        settings = DeploySettings(
            deploy_manifests_dir=tmp_path / "manifests",
            deploy_state_dir=tmp_path / name,
            deploy_state="s3",
            deploy_state_bucket="slipway-state",
            aws_endpoint_url=moto_url,
            git_sha="0123456789abcdef",
        )
        return Deployer(
            settings=settings, registries=lambda kind: registry, targets={"local": target}
        )  # the store is picked by the settings: S3

    first, second = runner("runner-a"), runner("runner-b")
    for version in (1, 2):
        write_manifest(
            tmp_path / "manifests", "dev", local_manifest("dev", version=version, port=9001)
        )
        assert run_apply(first, "dev").outcome == "applied"
    assert second.store.kind == "s3"
    assert [r.version for r in second.store.read_history("dev/driver_ranking").records] == [1, 2]
    back = run_rollback(second, "dev")  # the history the first runner wrote
    assert (back.outcome, back.now_serving) == ("applied", "driver_ranking:1")
    with holding_lock(second.store, "dev/driver_ranking", operation="apply", ttl=60):
        locked = run_apply(first, "dev")
    assert locked.outcome == "locked"
    assert not (tmp_path / "runner-a" / "dev" / "driver_ranking" / "history.jsonl").exists()
