"""Two models in three environments, on the embedded default (local registry, local target).

Both bundled models (``driver_ranking``, binary; ``trip_fare``, regression) are built and
registered once, then deployed to dev, staging and prod with the checked-in manifests and
``model_deploy/environments.yaml``. Promoting one model leaves the other's manifest, endpoint
and plan untouched; prod's policies hold for a prod manifest whatever its file name.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from feature_store.demo_data import DemoSizes, write_demo_data
from feature_store.registry_sync import apply
from feature_store.repo import FeatureRepo
from foundation.ports import free_port
from model_build.definition.catalog import MODELS_DIR
from model_build.pipeline.local_runner import run_local
from model_build.pipeline.steps.gate import NoServingModel
from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import ApprovalStatus, NewVersion
from model_deploy.apply import apply_env
from model_deploy.service import Deployer
from model_deploy.settings import DeploySettings
from model_deploy.targets import processes
from model_deploy.targets.local import LocalTarget

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "model_deploy"
MODELS = ("driver_ranking", "trip_fare")
ENVS = ("dev", "staging", "prod")
END = datetime(2026, 11, 1, tzinfo=UTC)
#: Before the checked-in end-of-year freeze window: the real environments file, unchanged.
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
SIZES = DemoSizes(drivers=40, customers=150, days=10, trips=10_000)
CLEAN = "a" * 40


@dataclass(frozen=True)
class Fleet:
    """Both models serving in every environment."""

    registry: LocalRegistry
    deployer: Deployer
    manifests: Path
    ports: dict[str, int]


def _manifest(source: Path, *, version: int, port: int) -> str:
    """The checked-in manifest, serving ``<model>:<version>`` on ``port``."""
    model = source.stem
    text = source.read_text(encoding="utf-8")
    service = {"driver_ranking": "driver_ranking_v1", "trip_fare": "trip_fare_v1"}[model]
    block = f"model:\n  registry: local\n  name: {model}\n  version: {version}\n"
    block += f"  feature_service: {service}\n"
    lines: list[str] = []
    in_model = False
    for line in text.splitlines(keepends=True):
        if line.startswith("model:"):  # the top-level block (null or a pinned version)
            lines.append(block)
            in_model = True
        elif in_model and line.startswith(" "):
            continue
        else:
            in_model = False
            lines.append(f"  port: {port}\n" if line.startswith("  port: ") else line)
    assert block in lines, source
    return "".join(lines)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    repo_path = root / "feature_repo"
    shutil.copytree(
        ROOT / "feature_repo", repo_path, ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    write_demo_data(out_dir=repo_path / "data", sizes=SIZES, seed=11, end=END)
    repo = FeatureRepo(path=repo_path, env="local")
    apply(repo=repo)
    registry = LocalRegistry(root / "registry")
    for model in MODELS:
        result = run_local(
            repo=repo,
            model_path=MODELS_DIR / model / "model.yaml",
            registry=registry,
            run_dir=root / "runs",
            serving=NoServingModel(reason="first build"),
            now=END,
            git_commit=CLEAN,
        )
        assert result.version is not None, result.warnings
        registry.set_status(model_name=model, version=1, status=ApprovalStatus.APPROVED)
    manifests = root / "model_deploy" / "environments"
    manifests.mkdir(parents=True)
    shutil.copyfile(DEPLOY / "environments.yaml", manifests.parent / "environments.yaml")
    ports: dict[str, int] = {}
    for env in ENVS:
        (manifests / env).mkdir(parents=True)
        for model in MODELS:
            ports[f"{env}/{model}"] = port = free_port()
            text = _manifest(DEPLOY / "environments" / env / f"{model}.yaml", version=1, port=port)
            (manifests / env / f"{model}.yaml").write_text(text, encoding="utf-8")
    settings = DeploySettings(
        deploy_manifests_dir=manifests, deploy_state_dir=root / "state", git_sha=CLEAN
    )
    local = LocalTarget(state_dir=settings.deploy_state_dir)  # the real inference server
    deployer = Deployer(
        settings=settings,
        registries=lambda kind: registry,
        targets={"local": local},
        clock=lambda: NOW,
    )
    try:
        for env in ENVS:  # promotion order: staging needs dev's deploy, prod staging's
            for model in MODELS:
                assert apply_env(deployer, f"{env}/{model}").outcome == "deployed"
        yield Fleet(registry=registry, deployer=deployer, manifests=manifests, ports=ports)
    finally:
        _stop_all(deployer)


def _stop_all(deployer: Deployer) -> None:
    """Stop every endpoint the fleet started (its router and backends)."""
    for key in deployer.deployments():
        manifest = deployer.load(key).manifest
        deployer.target(manifest.target.kind).stop(env=key, manifest=manifest)


def _answer(port: int, model: str) -> dict[str, object]:
    """The first smoke test's prediction through the endpoint's stable port."""
    manifest = yaml.safe_load((DEPLOY / "environments" / "dev" / f"{model}.yaml").read_text())
    instances = manifest["smoke_tests"][0]["instances"]
    status, body = processes.request_json(
        port=port, method="POST", path="/invocations", payload={"instances": instances},
        timeout=10,
    )  # fmt: skip
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def _register_again(
    registry: LocalRegistry, model: str, *, status: ApprovalStatus, scratch: Path
) -> int:
    """A new version of ``model`` (version 1's bundle again); returns its number."""
    first = registry.get(model_name=model, version=1)
    bundle = registry.fetch_bundle(model_name=model, version=1, directory=scratch / "bundle")
    new = NewVersion(
        model_name=model,
        artifact_digest=first.artifact_digest,
        metrics=dict(first.metrics),
        git_sha=CLEAN,
        data_hash=first.data_hash,
        feature_service=first.feature_service,
        features=list(first.features),
        task=first.task,
    )
    version = registry.register(new=new, bundle_dir=bundle).version
    if status != ApprovalStatus.PENDING:
        registry.set_status(model_name=model, version=version, status=status, reason="test")
    return version


def test_promoting_one_model_leaves_the_other_untouched(fleet: Fleet, tmp_path: Path) -> None:
    deployer, other = fleet.deployer, "dev/trip_fare"
    other_file = fleet.manifests / "dev" / "trip_fare.yaml"
    before_bytes = other_file.read_bytes()
    before = deployer.plan(other)
    assert before.action == "noop", before.summary
    assert before.actual.healthy
    assert before.actual.details  # its router's and backend's processes and ports
    answered = _answer(fleet.ports[other], "trip_fare")
    version = _register_again(
        fleet.registry, "driver_ranking", status=ApprovalStatus.APPROVED, scratch=tmp_path
    )
    promoted = fleet.manifests / "dev" / "driver_ranking.yaml"
    promoted.write_text(
        promoted.read_text().replace("  version: 1\n", f"  version: {version}\n"), "utf-8"
    )
    assert deployer.plan(other).action == "noop"  # planned before the apply, too
    assert apply_env(deployer, "dev/driver_ranking").outcome == "deployed"
    assert deployer.plan("dev/driver_ranking").serving_ref == f"driver_ranking:{version}"
    assert other_file.read_bytes() == before_bytes
    after = deployer.plan(other)
    assert after.action == "noop", after.summary
    assert after.serving_ref == before.serving_ref == "trip_fare:1"
    assert after.actual.details == before.actual.details  # same processes, same ports
    assert after.actual.endpoint == before.actual.endpoint
    assert _answer(fleet.ports[other], "trip_fare") == answered


def test_prod_policies_hold_whatever_the_manifest_s_file_name(fleet: Fleet, tmp_path: Path) -> None:
    deployer, prod = fleet.deployer, fleet.manifests / "prod"
    renamed = prod / "ranker-v2.yaml"
    (prod / "driver_ranking.yaml").rename(renamed)
    try:
        (key,) = deployer.select("prod", model="driver_ranking")
        assert key.startswith("prod/")
        assert deployer.rules("prod").requires_approval
        pending = _register_again(
            fleet.registry, "driver_ranking", status=ApprovalStatus.PENDING, scratch=tmp_path
        )
        renamed.write_text(
            renamed.read_text().replace("  version: 1\n", f"  version: {pending}\n"), "utf-8"
        )
        plan = deployer.plan(key)
        assert plan.blocked, plan.summary
        failed = {result.policy: result.message for result in plan.policies if result.failed}
        assert "approval" in failed, failed  # Pending: prod requires Approved
        assert "promotion-order" in failed, failed  # it never ran in staging
        fleet.registry.set_status(
            model_name="driver_ranking", version=pending, status=ApprovalStatus.APPROVED,
            reason="test",
        )  # fmt: skip
        plan = deployer.plan(key)
        failed = {result.policy: result.message for result in plan.policies if result.failed}
        assert plan.blocked
        assert "approval" not in failed, failed
        assert "promotion-order" in failed, failed
    finally:
        renamed.rename(prod / "driver_ranking.yaml")
