"""Console state written straight to disk: a local registry, manifests, deploy histories, a forge.

Nothing is built or deployed: version records, manifests and history lines are written in the
formats the readers (``LocalRegistry``, ``ManifestFolder``, ``LocalStateStore``) read, so a
large state (10 environments x 20 models x 200 versions) takes a few seconds to make.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MANIFESTS = Path("model_deploy") / "environments"
GIT = ["git", "-c", "user.name=Slipway Test", "-c", "user.email=test@slipway.invalid"]


@dataclass(frozen=True)
class ConsoleState:
    """Where a generated state lives."""

    root: Path

    @property
    def repo(self) -> Path:
        """The git repository (local forge) holding the manifests."""
        return self.root / "gitops"

    @property
    def manifests(self) -> Path:
        """The manifests folder (``<env>/<model>.yaml``)."""
        return self.repo / MANIFESTS

    @property
    def registry(self) -> Path:
        """The local registry folder."""
        return self.root / "registry"

    @property
    def deploy_state(self) -> Path:
        """The local deploy state folder (histories)."""
        return self.root / "deploy"

    @property
    def runs(self) -> Path:
        """Build run folders."""
        return self.root / "runs"

    def env(self) -> dict[str, str]:
        """The ``SLIPWAY_*`` variables pointing every reader at this state."""
        return {
            "SLIPWAY_REGISTRY": "local",
            "SLIPWAY_REGISTRY_PATH": str(self.registry),
            "SLIPWAY_FORGE": "local",
            "SLIPWAY_REPO_DIR": str(self.repo),
            "SLIPWAY_BASE_BRANCH": "main",
            "SLIPWAY_DEPLOY_MANIFESTS_DIR": str(self.manifests),
            "SLIPWAY_DEPLOY_STATE_DIR": str(self.deploy_state),
            "SLIPWAY_CONSOLE_RUN_DIR": str(self.runs),
            "SLIPWAY_TRACKING": "false",
        }


BASE_TIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def write_versions(state: ConsoleState, *, model: str, count: int, approved: bool = True) -> None:
    """``count`` registry versions of ``model`` (1..count), Approved or Pending."""
    model_dir = state.registry / model
    entries = []
    for number in range(1, count + 1):
        at = BASE_TIME + timedelta(hours=number)
        status = "Approved" if approved else "Pending"
        version = {
            "model_name": model,
            "task": "binary",
            "artifact_digest": f"sha256:{number:064x}",
            "metrics": {
                "roc_auc": 0.7 + number / (count * 10),
                "log_loss": 0.5 - number / (count * 10),
            },
            "params": {"max_depth": 3 + number % 4, "seed": 42},
            "git_sha": f"{number:040x}",
            "data_hash": f"sha256:{number * 7:064x}",
            "feature_service": f"{model}_v1",
            "features": ["conv_rate", "acc_rate"],
            "run_id": f"run-{model}-{number}",
            "description": "",
            "version": number,
            "status": status,
            "artifact_uri": str(model_dir / str(number) / "bundle"),
            "created_at": at.isoformat(),
            "status_reason": "generated",
        }
        history = [{"status": "Pending", "reason": "registered", "at": at.isoformat()}]
        if approved:
            history.append({"status": "Approved", "reason": "generated", "at": at.isoformat()})
        folder = model_dir / str(number)
        (folder / "bundle").mkdir(parents=True, exist_ok=True)
        (folder / "version.json").write_text(
            json.dumps({"format": 1, "version": version, "history": history})
        )
        entries.append(
            {
                "version": number,
                "status": status,
                "created_at": at.isoformat(),
                "artifact_digest": version["artifact_digest"],
                "run_id": version["run_id"],
            }
        )
    (model_dir / "index.json").write_text(
        json.dumps({"format": 1, "model_name": model, "versions": entries})
    )


def manifest_text(*, model: str, version: int | None, port: int) -> str:
    """A minimal local-target manifest naming ``model:version`` (or ``model: null``)."""
    block = (
        "model: null\n"
        if version is None
        else (
            f"model:\n  registry: local\n  name: {model}\n  version: {version}\n"
            f"  feature_service: {model}_v1\n"
        )
    )
    return f"description: generated\n{block}target:\n  kind: local\n  port: {port}\n"


def environments_text(envs: list[str]) -> str:
    """An environments file declaring ``envs`` in promotion order, each from the one before."""
    lines = ["environments:"]
    for index, env in enumerate(envs):
        lines.append(f"  {env}:")
        lines.append(f"    description: environment {env}")
        if index:
            lines.append(f"    promote_from: {envs[index - 1]}")
    return "\n".join(lines) + "\n"


def history_line(
    *,
    model: str,
    version: int,
    at: datetime,
    git_sha: str = "unknown",
    manifest_hash: str | None = None,
) -> str:
    """One succeeded apply record of ``model:version``, as ``LocalStateStore`` writes it."""
    record: dict[str, Any] = {
        "at": at.isoformat(),
        "action": "apply",
        "outcome": "succeeded",
        "model_ref": f"{model}:{version}",
        "version": version,
        "artifact_digest": f"sha256:{version:064x}",
        "manifest_hash": manifest_hash or f"sha256:{version:064x}",
        "manifest": {},
        "git_sha": git_sha,
        "message": f"deployed {model}:{version}",
        "change_kind": "promotion",
    }
    return json.dumps(record)


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (the test identity); its stdout."""
    done = subprocess.run(
        [*GIT, *args], cwd=repo, check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def large_state(
    root: Path, *, envs: int = 10, models: int = 20, versions: int = 200
) -> ConsoleState:
    """``envs`` environments x ``models`` models, each with ``versions`` versions and a history.

    Environment ``i`` wants version ``versions - i`` of every model; each history has a few
    applies, the last of the wanted version. One git commit holds every manifest.
    """
    state = ConsoleState(root)
    env_names = [f"env{i:02d}" for i in range(envs)]
    model_names = [f"model_{j:02d}" for j in range(models)]
    for model in model_names:
        write_versions(state, model=model, count=versions)
    state.manifests.mkdir(parents=True, exist_ok=True)
    (state.repo / "model_deploy" / "environments.yaml").write_text(environments_text(env_names))
    port = 20000
    for i, env in enumerate(env_names):
        for model in model_names:
            wanted = versions - i
            port += 1
            path = state.manifests / env / f"{model}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(manifest_text(model=model, version=wanted, port=port))
            lines = [
                history_line(model=model, version=v, at=BASE_TIME + timedelta(days=v))
                for v in range(max(1, wanted - 4), wanted + 1)
            ]
            folder = state.deploy_state / env / model
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "history.jsonl").write_text("\n".join(lines) + "\n")
    git(state.repo, "init", "-q", "-b", "main")
    git(state.repo, "add", "-A")
    git(state.repo, "commit", "-q", "-m", "generated state")
    return state


class FakeTarget:
    """A local-kind target whose live state is a dict: ``{key: version}`` deployed and healthy.

    A key missing from ``serving`` has nothing deployed; ``unhealthy`` keys answer unhealthy.
    """

    kind = "local"

    def __init__(self, serving: dict[str, int], unhealthy: set[str] | None = None) -> None:
        self.serving = dict(serving)
        self.unhealthy = set(unhealthy or ())

    def describe(self, *, env: str, manifest: Any) -> Any:
        from model_deploy.targets.protocol import ActualState

        version = self.serving.get(env)
        if version is None:
            return ActualState(env=env, target="local", deployed=False)
        from model_deploy.targets.protocol import describe_strategy

        model = env.partition("/")[2]
        return ActualState(
            env=env,
            target="local",
            deployed=True,
            healthy=env not in self.unhealthy,
            model_name=model,
            version=version,
            artifact_digest=f"sha256:{version:064x}",
            manifest_hash=manifest.content_hash(),
            endpoint=manifest.target.endpoint,
            data_capture_percentage=manifest.data_capture.sampling_percentage,
            strategy=describe_strategy(manifest),
            settings={key: value for key, (_, value) in manifest.target.settings().items()},
        )

    def health(self, *, env: str, manifest: Any) -> bool:
        return env in self.serving and env not in self.unhealthy

    def __getattr__(self, name: str) -> Any:  # deploy, rollback, stop...: never called here
        raise AssertionError(f"the console must not call {name} on a target")


SMALL_ENVS = ["dev", "staging", "prod"]
SMALL_MODELS = ["driver_ranking", "trip_fare"]


def small_state(root: Path) -> ConsoleState:
    """3 environments x 2 models, 3 approved versions each: dev wants 3, staging 2, prod 1.

    Every deploy history ends with the wanted version (so :func:`synced_target` serving the
    wanted versions is in sync), git holds the manifests on ``main``; nothing is deployed.
    """
    from model_deploy.manifest.sources import ManifestFolder

    state = ConsoleState(root)
    for model in SMALL_MODELS:
        write_versions(state, model=model, count=3)
    state.manifests.mkdir(parents=True, exist_ok=True)
    (state.repo / "model_deploy" / "environments.yaml").write_text(environments_text(SMALL_ENVS))
    port = 21000
    for i, env in enumerate(SMALL_ENVS):
        for model in SMALL_MODELS:
            port += 1
            wanted = 3 - i
            path = state.manifests / env / f"{model}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(manifest_text(model=model, version=wanted, port=port))
            digest = ManifestFolder(state.manifests).load(f"{env}/{model}").content_hash
            folder = state.deploy_state / env / model
            folder.mkdir(parents=True, exist_ok=True)
            lines = [
                history_line(
                    model=model,
                    version=v,
                    at=BASE_TIME + timedelta(days=v),
                    manifest_hash=digest if v == wanted else None,
                )
                for v in range(1, wanted + 1)
            ]
            (folder / "history.jsonl").write_text("\n".join(lines) + "\n")
    git(state.repo, "init", "-q", "-b", "main")
    git(state.repo, "config", "user.name", "Dev")
    git(state.repo, "config", "user.email", "dev@slipway.invalid")
    git(state.repo, "config", "commit.gpgsign", "false")
    git(state.repo, "add", "-A")
    git(state.repo, "commit", "-q", "-m", "initial manifests")
    return state


def wanted_versions(envs: list[str] = SMALL_ENVS) -> dict[str, int]:
    """What :func:`small_state`'s manifests name, by deployment key."""
    return {f"{env}/{model}": 3 - i for i, env in enumerate(envs) for model in SMALL_MODELS}


def open_promotion(state: ConsoleState, *, key: str, version: int, plan: str | None) -> int:
    """Open a promotion pull request of ``key`` to ``version`` on the local forge, with ``plan``.

    The branch changes the manifest's version; the plan is posted as the deployment's sticky
    comment (``<!-- slipway:plan:<key> -->`` first) and ``slipway/plan`` and
    ``slipway/policy`` are set on the head; ``plan=None`` leaves both to
    ``slipway ci comment-plan``. Returns the pull request's number.
    """
    from ci.forge.local import LocalForge
    from ci.forge.records import CommitStatus

    env, _, model = key.partition("/")
    branch = f"slipway/promote-{env}/{model}"
    path = MANIFESTS / env / f"{model}.yaml"
    text = (state.repo / path).read_text()
    current = text.split("version: ")[1].split("\n")[0]
    git(state.repo, "checkout", "-q", "-b", branch)
    (state.repo / path).write_text(text.replace(f"version: {current}", f"version: {version}"))
    git(state.repo, "commit", "-q", "-am", f"Promote {model}:{version} to {env}")
    head = git(state.repo, "rev-parse", "HEAD").strip()
    git(state.repo, "checkout", "-q", "main")
    forge = LocalForge(repo=state.repo)
    pr = forge.create_pr(
        head=branch,
        base="main",
        title=f"Promote {model}:{version} to {env}",
        body="promotion",
        labels=(),
    )
    if plan is None:
        return pr.number
    forge.create_comment(number=pr.number, body=f"<!-- slipway:plan:{key} -->\n{plan}")
    for context in ("slipway/plan", "slipway/policy"):
        forge.set_status(
            sha=head,
            status=CommitStatus(context=context, state="success", description="checked"),
        )
    return pr.number


def merge_promotion(state: ConsoleState, *, number: int, reviewer: str = "alice") -> str:
    """Approve and merge pull request ``number`` as ``slipway ci pr merge`` does; the commit."""
    from ci.forge.local import LocalForge

    forge = LocalForge(repo=state.repo)
    pr = forge.get_pr(number=number)
    forge.approve_pr(number=number, reviewer=reviewer)
    return forge.merge_pr(
        number=number, message=f"Merge pull request #{number} from {pr.head}\n\n{pr.title}\n"
    )
