"""Helpers shared by the ci tests: an in-memory registry, a temp git repo, planners, forges."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from registry_fakes import InMemoryRegistry

from ci.forge.github import GitHubForge
from ci.forge.local import LocalForge
from ci.planning import Planner, deployer_planner
from ci.settings import CiSettings
from model_build.registry.protocol import ApprovalStatus, ModelRegistry, ModelVersion, NewVersion
from model_deploy.settings import DeploySettings

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "model_deploy" / "environments"
MANIFESTS_DIR = "model_deploy/environments"
MODEL = "driver_ranking"
SERVICE = "driver_ranking_v1"
#: The features the checked-in manifests' smoke tests send (the feature-schema policy checks).
FEATURES = [
    "conv_rate",
    "acc_rate",
    "avg_daily_trips",
    "rating",
    "cancel_rate",
    "online_hours",
    "current_balance",
    "avg_passenger_count",
    "lifetime_trip_count",
    "customer_segment",
    "tenure_days",
    "pickup_score",
    "distance_per_daily_trip",
    "trip_distance_km",
]


class FakeRegistry(InMemoryRegistry):
    """In-memory ``ModelRegistry`` (no bundles)."""

    def add(
        self,
        *,
        status: ApprovalStatus = ApprovalStatus.APPROVED,
        metrics: dict[str, float] | None = None,
        reason: str = "",
    ) -> ModelVersion:
        number = 1 + sum(1 for name, _ in self.versions if name == MODEL)
        version = ModelVersion(
            **NewVersion(
                model_name=MODEL,
                artifact_digest=f"sha256:{number:064x}",
                metrics=metrics or {"roc_auc": 0.8 + number / 100, "log_loss": 0.45},
                git_sha=f"{number:07x}cafe",
                data_hash=f"data-{number}",
                feature_service=SERVICE,
                features=list(FEATURES),
            ).model_dump(),
            version=number,
            status=status,
            status_reason=reason,
            artifact_uri=f"/registry/{MODEL}/{number}",
            created_at=datetime(2026, 1, number, tzinfo=UTC),
        )
        self.versions[(MODEL, number)] = version
        return version

    def opener(self) -> Callable[[str], ModelRegistry]:
        def open_kind(kind: str) -> ModelRegistry:
            return self

        return open_kind


ENVIRONMENTS_FILE = "model_deploy/environments.yaml"


def manifest_files() -> dict[str, str]:
    """The checked-in manifests and environments file, by repository path."""
    files = {
        f"{MANIFESTS_DIR}/{p.parent.name}/{p.name}": p.read_text(encoding="utf-8")
        for p in sorted(MANIFESTS.glob("*/*.yaml"))
    }
    files[ENVIRONMENTS_FILE] = (ROOT / ENVIRONMENTS_FILE).read_text(encoding="utf-8")
    return files


def path_of(env: str, model: str = MODEL) -> str:
    """The repository path of a checked-in manifest."""
    return f"{MANIFESTS_DIR}/{env}/{model}.yaml"


def seed_history(state_dir: Path, env: str, version: int, *, model: str = MODEL) -> None:
    """Record a successful deploy of ``model:version`` in ``env``'s deploy history.

    What the promotion path (staging takes only versions deployed healthily in dev, prod only
    from staging) reads, as a real deploy would have left it.
    """
    from model_deploy.store.local import LocalStateStore
    from model_deploy.store.records import DeploymentRecord

    key = f"{env}/{model}"
    record = DeploymentRecord(
        at=datetime(2026, 1, 10, tzinfo=UTC),
        action="apply",
        outcome="succeeded",
        model_ref=f"{model}:{version}",
        version=version,
        manifest_hash="sha256:" + "0" * 64,
        manifest={},
        message="seeded by the test",
        run_id=f"seed-{env}-{version}",
    )
    LocalStateStore(state_dir).append_history(key, record)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_git_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A git repo on branch main holding the checked-in manifests (one commit)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    git(path, "config", "commit.gpgsign", "false")
    for name, text in (files or manifest_files()).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial manifests")
    return path


def planner(tmp_path: Path, registry: FakeRegistry) -> Planner:
    """The real deployer-backed planner, with the fake registry and a scratch state folder."""
    return deployer_planner(
        manifests_dir=MANIFESTS_DIR,
        settings=DeploySettings(deploy_state_dir=tmp_path / "deploy-state"),
        registries=registry.opener(),
    )


def local_forge(repo: Path) -> LocalForge:
    return LocalForge(repo=repo)


def github_forge(
    url: str, *, token: str = "test-token", sleeps: list[float] | None = None
) -> GitHubForge:
    """A GitHubForge on the fake server; waits are recorded in ``sleeps``, not slept."""
    settings = CiSettings(
        forge="github",
        github_token=SecretStr(token),
        github_repository="acme/churn",
        github_api_url=url,
        github_seconds_between_writes=0,
        github_timeout=5,
    )
    record = sleeps if sleeps is not None else []
    return GitHubForge(settings=settings, sleep=record.append)
