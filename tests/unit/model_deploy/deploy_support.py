"""Helpers shared by the model_deploy tests: bundles, a registry, manifests, process cleanup."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from registry_fakes import InMemoryRegistry

from model_build.registry.protocol import ApprovalStatus, ModelVersion, NewVersion
from model_bundle.bundle import ModelBundle, bundle_digest, save_bundle
from model_deploy.service import Deployer
from model_deploy.settings import DeploySettings
from model_deploy.targets import processes
from model_deploy.targets.local import LocalTarget
from model_deploy.targets.protocol import DeployTarget

HERE = Path(__file__).resolve().parent
STANDIN_SERVER = HERE / "standin_server.py"
FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
MODEL = "driver_ranking"
SERVICE = "driver_ranking_v1"
GOOD_ROW = {"conv_rate": 0.95, "acc_rate": 0.97, "avg_daily_trips": 12}
BAD_ROW = {"conv_rate": 0.02, "acc_rate": 0.05, "avg_daily_trips": 1}


def real_server_available() -> bool:
    """Whether ``python -m services.inference`` exists (else tests use the stand-in)."""
    root = Path(__file__).resolve().parents[3]
    return (root / "services" / "inference" / "__main__.py").is_file()


def server_command() -> list[str]:
    """Command of the inference server the local target starts in tests."""
    if real_server_available() and not os.environ.get("SLIPWAY_TEST_STANDIN_SERVER"):
        return [sys.executable, "-m", "services.inference"]
    return [sys.executable, str(STANDIN_SERVER)]


def make_bundle(directory: Path, *, seed: int, inverted: bool = False) -> str:
    """Fit a tiny logistic regression (label = conv_rate + acc_rate > 1) and save it."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(0, 1, 400), rng.uniform(0, 1, 400), rng.integers(0, 30, 400)])
    y = (x[:, 0] + x[:, 1] > 1).astype(int)
    if inverted:
        y = 1 - y
    model = LogisticRegression(max_iter=500).fit(x, y)
    return save_bundle(
        ModelBundle(estimator=model, features=list(FEATURES), metadata={"seed": seed}),
        directory=directory,
    )


class FakeRegistry(InMemoryRegistry):
    """In-memory registry implementing the ``ModelRegistry`` protocol (bundles on disk)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def register(
        self, *, new: NewVersion, bundle_dir: Path, baseline_dir: Path | None = None
    ) -> ModelVersion:
        number = 1 + sum(1 for name, _ in self.versions if name == new.model_name)
        version = ModelVersion(
            **new.model_dump(),
            version=number,
            artifact_uri=str(bundle_dir),
            created_at=datetime(2026, 1, number, tzinfo=UTC),
        )
        self.versions[(new.model_name, number)] = version
        return version

    def fetch_bundle(self, *, model_name: str, version: int, directory: Path) -> Path:
        import shutil

        source = Path(self.get(model_name=model_name, version=version).artifact_uri)
        shutil.copytree(source, directory, dirs_exist_ok=True)
        return directory


def register_version(
    registry: Any,
    tmp_path: Path,
    *,
    seed: int,
    metrics: Mapping[str, float] | None = None,
    status: ApprovalStatus = ApprovalStatus.APPROVED,
    inverted: bool = False,
) -> ModelVersion:
    """Build a bundle, register it and set its status."""
    bundle = tmp_path / f"bundle-{seed}-{int(inverted)}"
    digest = make_bundle(bundle, seed=seed, inverted=inverted)
    version = registry.register(
        new=NewVersion(
            model_name=MODEL,
            artifact_digest=digest,
            metrics=dict(metrics or {"roc_auc": 0.8, "log_loss": 0.45}),
            git_sha=f"{seed:07x}abc",
            data_hash=f"data-{seed}",
            feature_service=SERVICE,
            features=list(FEATURES),
        ),
        bundle_dir=bundle,
    )
    if status != ApprovalStatus.PENDING:
        version = registry.set_status(
            model_name=MODEL, version=version.version, status=status, reason="test"
        )
    assert bundle_digest(directory=bundle) == digest
    return version


def local_manifest(
    env: str,
    *,
    version: int | None,
    port: int,
    strategy: str = "type: all_at_once",
    expect: str = "probability: {min: 0.0, max: 1.0}",
    thresholds: str = "roc_auc: {min: 0.7}",
    extra: str = "",
) -> str:
    """A local-target manifest with two smoke cases."""
    model = (
        "model: null"
        if version is None
        else f"model:\n  registry: local\n  name: {MODEL}\n  version: {version}\n"
        f"  feature_service: {SERVICE}"
    )
    return f"""\
# test manifest
environment: {env}
{model}
target:
  kind: local
  port: {port}
data_capture:
  sampling_percentage: 100
strategy:
  {strategy}
smoke_tests:
  - name: strong driver
    instances:
      - {json.dumps(GOOD_ROW)}
    expect:
      {expect}
  - name: two rows
    instances:
      - {json.dumps(GOOD_ROW)}
      - {json.dumps(BAD_ROW)}
policy:
  thresholds:
    {thresholds}
{extra}"""


#: The environments file of the tests: the rules the deploy code had before environments were
#: declared in a file (approval and clean builds in staging and prod, prod after staging), no
#: promotion path (tests that need one write their own).
ENVIRONMENTS = """\
environments:
  dev: {}
  staging:
    requires_approval: true
    requires_clean_build: true
  prod:
    requires_approval: true
    requires_clean_build: true
    upstream: staging
"""


def write_environments(manifests: Path, text: str = ENVIRONMENTS) -> Path:
    """Write the environments file beside the manifests folder."""
    manifests.mkdir(parents=True, exist_ok=True)
    path = manifests.parent / "environments.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def write_manifest(manifests: Path, env: str, text: str, *, model: str = MODEL) -> Path:
    """Write ``<manifests>/<env>/<model>.yaml`` (and the environments file, if there is none).

    ``env`` may be a key ``<env>/<model>``.
    """
    if "/" in env:
        env, model = env.split("/", 1)
    if not (manifests.parent / "environments.yaml").is_file():
        write_environments(manifests)
    folder = manifests / env
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def env_texts(texts: Mapping[str, str], *, environments: str = ENVIRONMENTS) -> dict[str, str]:
    """Manifest texts by environment as ``plan_texts`` takes them: by key, with the
    environments file's text."""
    keyed = {(k if "/" in k else f"{k}/{MODEL}"): v for k, v in texts.items()}
    return {**keyed, "environments.yaml": environments}


def key(env: str) -> str:
    """The deployment key of the test model in ``env``."""
    return f"{env}/{MODEL}"


def make_deployer(
    tmp_path: Path,
    registry: Any,
    *,
    targets: Mapping[str, DeployTarget] | None = None,
    clock: Callable[[], datetime] | None = None,
    health_timeout: float = 60.0,
) -> Deployer:
    """A deployer over ``tmp_path/manifests`` and ``tmp_path/state``."""
    settings = DeploySettings(
        deploy_manifests_dir=tmp_path / "manifests",
        deploy_state_dir=tmp_path / "state",
        git_sha="0123456789abcdef",
    )
    local = LocalTarget(
        state_dir=settings.deploy_state_dir,
        server_command=server_command(),
        health_timeout=health_timeout,
    )
    return Deployer(
        settings=settings,
        registries=lambda kind: registry,
        targets=dict(targets or {"local": local}),
        clock=clock or (lambda: datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
    )


def kill_spawned() -> None:
    """Kill every process group this interpreter spawned (fixture finalizer)."""
    for pid, process in list(processes._CHILDREN.items()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            process.wait(timeout=5)
        processes._CHILDREN.pop(pid, None)


def score(port: int, timeout: float = 10.0) -> dict[str, Any]:
    """Score GOOD_ROW through ``POST /invocations`` on 127.0.0.1:``port`` (asserts a 200)."""
    status, body = processes.request_json(
        port=port, method="POST", path="/invocations", payload={"instances": [GOOD_ROW]},
        timeout=timeout,
    )  # fmt: skip
    assert status == 200, body
    assert isinstance(body, dict)
    return body


class Poller:
    """Scores through the stable port in a loop; counts failures and digests seen."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.failures: list[str] = []
        self.digests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.digests.append(score(self.port)["model"]["digest"])
            except (OSError, AssertionError, KeyError) as exc:
                self.failures.append(repr(exc))

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
