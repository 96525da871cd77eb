"""One contract for every StateStore: local files, and S3 (conditional writes) on a moto server.

The S3 variant talks HTTP to moto's threaded server on 127.0.0.1 (one server per module, reset
before each test) with fake credentials. Every test runs against both stores: two lockers
racing, a stale lock (expired, or its process gone) taken over, refresh and release only by the
holder, history order, unreadable records skipped with a warning, intents written and cleared.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kits.servers import AWS_TEST_ENV, moto_server, reset_moto

from foundation.aws import boto3_clients
from model_deploy.errors import LockedError, StateStoreError
from model_deploy.settings import DeploySettings
from model_deploy.store.factory import open_state_store
from model_deploy.store.local import LocalStateStore
from model_deploy.store.protocol import StateStore, holding_lock
from model_deploy.store.records import DeployIntent, DeploymentRecord, LockOwner
from model_deploy.store.s3 import S3StateStore

pytestmark = pytest.mark.integration

BUCKET = "slipway-deploy-state"
ENV = "prod"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


class Stores:
    """Makes stores of one kind that share state (two runners looking at one place)."""

    def __init__(self, kind: str, tmp_path: Path, url: str | None) -> None:
        self.kind = kind
        self.root = tmp_path / "state"
        self.url = url

    def make(self) -> StateStore:
        if self.kind == "local":
            return LocalStateStore(self.root)
        assert self.url is not None
        return S3StateStore(
            clients=boto3_clients(region="us-east-1", endpoint_url=self.url),
            bucket=BUCKET,
            prefix="team/state",
        )

    def corrupt_lock(self, text: str) -> None:
        if self.kind == "local":
            (self.root / ENV).mkdir(parents=True, exist_ok=True)
            (self.root / ENV / "apply.lock").write_text(text)
        else:
            self._s3().put_object(Bucket=BUCKET, Key=f"team/state/{ENV}/lock.json", Body=text)

    def corrupt_history(self) -> None:
        if self.kind == "local":
            with (self.root / ENV / "history.jsonl").open("a") as handle:
                handle.write("{torn line\n")
        else:
            self._s3().put_object(
                Bucket=BUCKET,
                Key=f"team/state/{ENV}/history/{time.time_ns():020d}-bad.json",
                Body=b"{torn",
            )

    def corrupt_intent(self) -> None:
        if self.kind == "local":
            (self.root / ENV / "intent.json").write_text("{torn")
        else:
            self._s3().put_object(Bucket=BUCKET, Key=f"team/state/{ENV}/intent.json", Body=b"{")

    def _s3(self) -> Any:
        assert self.url is not None
        return boto3_clients(region="us-east-1", endpoint_url=self.url)("s3")


@pytest.fixture(params=["local", "s3"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Stores:
    if request.param == "local":
        return Stores("local", tmp_path, None)
    url: str = request.getfixturevalue("moto_url")
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    reset_moto(url)
    boto3_clients(region="us-east-1", endpoint_url=url)("s3").create_bucket(Bucket=BUCKET)
    return Stores("s3", tmp_path, url)


def owner(operation: str = "apply", *, pid: int | None = None, host: str | None = None) -> Any:
    me = LockOwner.me(operation)
    return me.model_copy(update={k: v for k, v in {"pid": pid, "host": host}.items() if v})


def record(version: int, **extra: Any) -> DeploymentRecord:
    return DeploymentRecord(
        action="apply",
        outcome="succeeded",
        model_ref=f"driver_ranking:{version}",
        version=version,
        manifest_hash=f"sha256:{version:064d}",
        manifest={"v": version},
        **extra,
    )


# -- failure paths first -------------------------------------------------------------------------


def test_satisfies_the_protocol(stores: Stores) -> None:
    assert isinstance(stores.make(), StateStore)
    assert stores.make().kind == stores.kind


def test_two_concurrent_lockers_one_wins_and_the_other_names_it(stores: Stores) -> None:
    barrier = threading.Barrier(8)
    won: list[Any] = []
    refused: list[LockedError] = []

    def take() -> None:
        store = stores.make()  # each locker its own client, as two runners would be
        barrier.wait(5)
        try:
            won.append(store.acquire(ENV, owner=owner(), ttl=60))
        except LockedError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(won) == 1, won
    assert len(refused) == 7
    assert all(f"pid {os.getpid()}" in str(exc) and exc.holder for exc in refused)
    assert stores.make().holder(ENV) == won[0].note.owner


def test_a_held_lock_refuses_fast_then_frees_on_release(stores: Stores) -> None:
    store, other = stores.make(), stores.make()
    other.holder(ENV)  # its client is made (and warm) before the clock starts
    with holding_lock(store, ENV, operation="apply", ttl=60):
        started = time.monotonic()
        with pytest.raises(LockedError, match=r"another apply \(pid \d+, since"):
            other.acquire(ENV, owner=owner("rollback"), ttl=60)
        assert time.monotonic() - started < 2.0
        assert stores.make().holder(ENV) is not None
    assert stores.make().holder(ENV) is None
    lease = stores.make().acquire(ENV, owner=owner("rollback"), ttl=60)
    assert lease.took_over is None


def test_an_expired_lock_is_taken_over_and_its_old_holder_loses_it(stores: Stores) -> None:
    old = stores.make().acquire(ENV, owner=owner(), ttl=0.2)
    time.sleep(0.4)
    assert stores.make().holder(ENV) is None  # stale reads as free
    new = stores.make().acquire(ENV, owner=owner("rollback"), ttl=60)
    assert new.took_over is not None
    assert "expired" in new.took_over
    with pytest.raises(LockedError, match="lock was lost"):
        stores.make().refresh(old, ttl=60)
    stores.make().release(old)  # a lost lease's release leaves the new holder alone
    assert stores.make().holder(ENV) == new.note.owner


def test_a_lock_whose_process_is_gone_is_stale(stores: Stores) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    stores.make().acquire(ENV, owner=owner(pid=gone.pid), ttl=3600)
    lease = stores.make().acquire(ENV, owner=owner(), ttl=60)
    assert lease.took_over is not None
    assert f"process {gone.pid}" in lease.took_over
    # a process on another host is never judged by its pid: only its expiry counts
    stores.make().release(lease)
    stores.make().acquire(ENV, owner=owner(pid=gone.pid, host="another-runner"), ttl=3600)
    with pytest.raises(LockedError, match="on another-runner"):
        stores.make().acquire(ENV, owner=owner(), ttl=60)


def test_a_corrupt_lock_is_taken_over(stores: Stores) -> None:
    stores.corrupt_lock("{not json")
    assert stores.make().holder(ENV) is None
    lease = stores.make().acquire(ENV, owner=owner(), ttl=60)
    assert lease.took_over == "took over a corrupt lock"


def test_refresh_extends_the_lease(stores: Stores) -> None:
    store = stores.make()
    lease = store.acquire(ENV, owner=owner(), ttl=1.5)
    for _ in range(3):
        time.sleep(0.6)
        lease = store.refresh(lease, ttl=1.5)
    assert store.holder(ENV) is not None  # 1.8 s later, still held thanks to the refreshes
    with pytest.raises(LockedError):
        stores.make().acquire(ENV, owner=owner(), ttl=60)
    store.release(lease)


def test_unreadable_history_records_are_skipped_with_a_warning(stores: Stores) -> None:
    store = stores.make()
    store.append_history(ENV, record(1))
    stores.corrupt_history()
    store.append_history(ENV, record(2))
    history = stores.make().read_history(ENV)
    assert [r.version for r in history.records] == [1, 2]
    (warning,) = history.warnings
    assert "skipped 1 unreadable" in warning


def test_a_corrupt_intent_is_found_and_reported(stores: Stores) -> None:
    stores.make().append_history(ENV, record(1))  # creates the environment's folder
    stores.corrupt_intent()
    found = stores.make().read_intent(ENV)
    assert found.found
    assert found.intent is None
    assert "corrupt" in found.warnings[0]
    stores.make().clear_intent(ENV)
    assert not stores.make().read_intent(ENV).found


# -- history, intent ------------------------------------------------------------------------------


def test_history_keeps_the_order_of_appends_across_stores(stores: Stores) -> None:
    assert stores.make().read_history(ENV).records == []
    for version in range(1, 8):
        stores.make().append_history(ENV, record(version, message=f"deploy {version}"))
    history = stores.make().read_history(ENV)
    assert [r.version for r in history.records] == list(range(1, 8))
    assert history.warnings == []
    assert history.last is not None
    assert history.last.message == "deploy 7"
    assert stores.make().read_history("dev").records == []  # environments are separate


def test_intent_round_trip(stores: Stores) -> None:
    store = stores.make()
    assert not store.read_intent(ENV).found
    now = datetime.now(UTC)
    intent = DeployIntent(
        id="run-1",
        env=ENV,
        action="apply",
        owner=owner(),
        started_at=now,
        updated_at=now,
        manifest_hash="sha256:" + "a" * 64,
        manifest={"environment": ENV},
        desired_ref="m:2",
    )
    store.write_intent(ENV, intent)
    later = intent.model_copy(
        update={
            "phase": "traffic",
            "step": 2,
            "steps": 4,
            "percent": 50,
            "updated_at": now + timedelta(seconds=1),
        }
    )
    store.write_intent(ENV, later)
    found = stores.make().read_intent(ENV)
    assert found.intent == later
    assert found.intent.describe() == "apply of m:2, step 2/4 (50% on it)"
    store.clear_intent(ENV)
    assert not stores.make().read_intent(ENV).found
    store.clear_intent(ENV)  # twice is fine


def test_location_names_the_place(stores: Stores) -> None:
    where = stores.make().location(ENV)
    if stores.kind == "local":
        assert where == str(stores.root / ENV)
    else:
        assert where == f"s3://{BUCKET}/team/state/{ENV}"


# -- picked by settings -----------------------------------------------------------------------


def test_the_factory_picks_the_store_from_settings(tmp_path: Path) -> None:
    from foundation.errors import SettingsError

    local = open_state_store(DeploySettings(deploy_state_dir=tmp_path))
    assert isinstance(local, LocalStateStore)
    with pytest.raises(SettingsError, match="SLIPWAY_DEPLOY_STATE_BUCKET"):
        open_state_store(DeploySettings(deploy_state="s3"))
    s3 = open_state_store(DeploySettings(deploy_state="s3", deploy_state_bucket=BUCKET))
    assert isinstance(s3, S3StateStore)
    assert s3.location("dev") == f"s3://{BUCKET}/slipway/deploy-state/dev"


def test_a_missing_bucket_is_a_state_store_error(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    reset_moto(moto_url)
    store = S3StateStore(
        clients=boto3_clients(region="us-east-1", endpoint_url=moto_url), bucket="no-such-bucket"
    )
    with pytest.raises(StateStoreError, match="NoSuchBucket"):
        store.append_history(ENV, record(1))
