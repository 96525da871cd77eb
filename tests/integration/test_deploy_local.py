"""Local-only deploy behaviour with real processes on 127.0.0.1: zero failed requests, stale pids.

What every target does (create, update, no-op, canary, failed smoke tests, rollback, teardown,
corrupt state) is in ``tests/contract/test_deploy_target_contract.py``; this file keeps what only
the local target has: requests that never fail during a switch, data capture files, pids that
went stale or were reused, a squatted port, and a fast plan.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "model_deploy"))

from deploy_support import (
    Poller,
    kill_spawned,
    local_manifest,
    make_deployer,
    register_version,
    score,
    server_command,
    write_manifest,
)

from foundation.ports import free_port
from model_build.registry.local import LocalRegistry
from model_deploy.apply import apply_env, rollback_env
from model_deploy.errors import ApplyFailed
from model_deploy.service import Deployer
from model_deploy.status import status_all
from model_deploy.targets import processes
from model_deploy.targets.local_state import EnvFiles, read_state, write_state
from model_deploy.targets.waiting import poll_until
from model_monitor.capture import DEFAULT_VARIANT, CaptureRecord
from model_monitor.reader import capture_files, iter_records

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> LocalRegistry:
    root = tmp_path_factory.mktemp("deploy-registry")
    registry = LocalRegistry(root / "registry")
    register_version(registry, root, seed=1)
    register_version(registry, root, seed=2, metrics={"roc_auc": 0.84, "log_loss": 0.41})
    register_version(registry, root, seed=3, inverted=True)  # approved, but predicts backwards
    return registry


@pytest.fixture
def env(tmp_path: Path, registry: LocalRegistry) -> Iterator[tuple[Deployer, int]]:
    deployer = make_deployer(tmp_path, registry)
    try:
        yield deployer, free_port()
    finally:
        kill_spawned()


def put(deployer: Deployer, text: str) -> None:
    write_manifest(Path(deployer.settings.deploy_manifests_dir), "dev", text)


def test_data_capture_file_and_a_fast_noop(env: tuple[Deployer, int]) -> None:
    deployer, port = env
    put(deployer, local_manifest("dev", version=1, port=port))
    apply_env(deployer, "dev")
    score(port)
    pids = read_state(EnvFiles(deployer.state_dir / "dev" / "driver_ranking"))[0]
    started = time.monotonic()
    assert apply_env(deployer, "dev").outcome == "noop"
    assert time.monotonic() - started < 2.0
    assert read_state(EnvFiles(deployer.state_dir / "dev" / "driver_ranking"))[0] == pids
    files = EnvFiles(deployer.state_dir / "dev" / "driver_ranking")
    # 100 % data capture, in SageMaker's layout, written off the request path (soon after)
    records = poll_until(
        lambda: _captured(files) or None,
        timeout=10,
        interval=0.05,
        on_timeout=lambda: f"nothing captured under {files.capture}",
    )
    assert records[0].endpoint_output is not None
    assert "predictions" in records[0].endpoint_output.text()


def _captured(files: EnvFiles) -> list[CaptureRecord]:
    found = capture_files(
        destination=files.capture, endpoint=files.capture_endpoint, variant=DEFAULT_VARIANT
    )
    return list(iter_records(files=found))


def test_upgrade_switches_with_zero_failed_requests(
    env: tuple[Deployer, int], registry: LocalRegistry
) -> None:
    deployer, port = env
    v1 = registry.get(model_name="driver_ranking", version=1)
    v2 = registry.get(model_name="driver_ranking", version=2)
    put(deployer, local_manifest("dev", version=1, port=port))
    apply_env(deployer, "dev")
    old = read_state(EnvFiles(deployer.state_dir / "dev" / "driver_ranking"))[0].active
    assert old is not None
    put(deployer, local_manifest("dev", version=2, port=port))
    with Poller(port) as poller:
        time.sleep(0.3)
        result = apply_env(deployer, "dev")
        time.sleep(0.5)
    assert result.outcome == "deployed"
    assert result.after.model_ref == "driver_ranking:2"
    assert poller.failures == []
    assert len(poller.digests) > 20
    assert poller.digests[0] == v1.artifact_digest
    assert poller.digests[-1] == v2.artifact_digest
    switch = poller.digests.index(v2.artifact_digest)
    assert set(poller.digests[switch:]) == {v2.artifact_digest}  # no flapping back
    assert not processes.is_running(old.pid, marker=old.marker)


def test_a_failed_deploy_never_fails_a_request_and_leaves_no_stray_process(
    env: tuple[Deployer, int], registry: LocalRegistry
) -> None:
    deployer, port = env
    v1 = registry.get(model_name="driver_ranking", version=1)
    put(deployer, local_manifest("dev", version=1, port=port, expect="label: 1"))
    apply_env(deployer, "dev")
    put(deployer, local_manifest("dev", version=3, port=port, expect="label: 1"))
    with Poller(port) as poller, pytest.raises(ApplyFailed) as caught:
        apply_env(deployer, "dev")
    assert "'strong driver': prediction 0: label 0, expected 1" in str(caught.value)
    assert poller.failures == []
    assert set(poller.digests) == {v1.artifact_digest}
    assert len(processes._CHILDREN) == 2  # the router and v1: the bad backend was stopped
    (status,) = status_all(deployer)
    assert status.serving_ref == "driver_ranking:1"
    assert not status.in_sync


def test_rollback_never_fails_a_request(env: tuple[Deployer, int], registry: LocalRegistry) -> None:
    deployer, port = env
    put(deployer, local_manifest("dev", version=1, port=port))
    apply_env(deployer, "dev")
    put(deployer, local_manifest("dev", version=2, port=port))
    apply_env(deployer, "dev")
    with Poller(port) as poller:
        result = rollback_env(deployer, "dev")
    assert result.after.model_ref == "driver_ranking:1"
    assert poller.failures == []
    v1 = registry.get(model_name="driver_ranking", version=1)
    assert score(port)["model"]["digest"] == v1.artifact_digest


def test_stale_pid_file_is_detected_and_recovered(env: tuple[Deployer, int]) -> None:
    deployer, port = env
    put(deployer, local_manifest("dev", version=1, port=port))
    apply_env(deployer, "dev")
    files = EnvFiles(deployer.state_dir / "dev" / "driver_ranking")
    state = read_state(files)[0]
    assert state.router is not None
    assert state.active is not None
    kill_spawned()  # crash: router and backend die, the state file stays
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        # the router's pid is now "reused" by an unrelated process
        write_state(files, state.model_copy(update={
            "router": state.router.model_copy(update={"pid": bystander.pid})}))  # fmt: skip
        actual = deployer.plan("dev").actual
        assert not actual.healthy
        assert any("not running (stale state file)" in note for note in actual.notes)
        plan = deployer.plan("dev")
        assert plan.action == "update"
        assert plan.changes[0].key == "health"
        result = apply_env(deployer, "dev")
        assert result.outcome == "deployed"
        assert result.after.healthy
        assert bystander.poll() is None, "a pid that is not ours must never be signalled"
        assert score(port)["model"]["ref"] == "driver_ranking:1"
    finally:
        bystander.kill()
        bystander.wait()


def test_a_busy_port_fails_the_apply_until_it_is_free(env: tuple[Deployer, int]) -> None:
    deployer, port = env
    put(deployer, local_manifest("dev", version=1, port=port))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(ApplyFailed, match=f"port {port} on 127.0.0.1 is in use"):
            apply_env(deployer, "dev")
    assert apply_env(deployer, "dev").after.healthy


def test_plan_is_fast_on_the_local_target(env: tuple[Deployer, int]) -> None:
    deployer, port = env
    put(deployer, local_manifest("dev", version=1, port=port))
    apply_env(deployer, "dev")
    put(deployer, local_manifest("dev", version=2, port=port))
    started = time.perf_counter()
    plan = deployer.plan("dev")
    assert time.perf_counter() - started < 2.0
    assert plan.action == "update"


def test_cli_plan_in_a_fresh_process_is_under_two_seconds(
    env: tuple[Deployer, int], tmp_path: Path
) -> None:
    deployer, port = env
    put(deployer, local_manifest("dev", version=1, port=port))
    apply_env(deployer, "dev")
    registry_root = next((tmp_path.parent).glob("deploy-registry*/registry"), None)
    environ = {
        **os.environ,
        "SLIPWAY_DEPLOY_MANIFESTS_DIR": str(deployer.settings.deploy_manifests_dir),
        "SLIPWAY_DEPLOY_STATE_DIR": str(deployer.state_dir),
        "SLIPWAY_DEPLOY_SERVER_COMMAND": json.dumps(server_command()),
        "SLIPWAY_GIT_SHA": "cli-test",
    }
    if registry_root is not None:
        environ["SLIPWAY_REGISTRY_PATH"] = str(registry_root)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "slipway", "deploy", "plan", "dev", "--format", "json"],
        capture_output=True, text=True, env=environ, timeout=60, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["env"] == "dev/driver_ranking"
    assert elapsed < 2.0, f"plan took {elapsed:.2f} s"
