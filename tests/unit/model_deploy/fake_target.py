"""An in-memory DeployTarget for the deploy tests that need no processes."""

from __future__ import annotations

from typing import Any

from model_deploy.errors import TargetError
from model_deploy.manifest.model import Manifest
from model_deploy.targets.protocol import ActualState, DeployRequest, Verifier


class FakeTarget:
    """Remembers deployments; scores every row with ``probability`` (or the version's own).

    ``fail_deploy`` makes deploys fail like a process that does not start; ``fail_rollback``
    makes the rollback after a failed deploy fail too; ``steps`` records the journal calls.
    """

    kind = "local"

    def __init__(self) -> None:
        self.serving: dict[str, DeployRequest] = {}
        self.healthy: dict[str, bool] = {}
        self.fail_deploy = False
        self.fail_rollback = False
        self.steps: list[tuple[str, int]] = []
        self.probability = 0.9
        self.serving_probability: dict[int, float] = {}
        self.deploys = 0

    def describe(self, *, env: str, manifest: Manifest) -> ActualState:
        request = self.serving.get(env)
        if request is None:
            return ActualState(env=env, target="local", deployed=False)
        return ActualState(
            env=env,
            target="local",
            deployed=True,
            healthy=self.healthy.get(env, True),
            model_name=request.version.model_name,
            version=request.version.version,
            artifact_digest=request.version.artifact_digest,
            manifest_hash=request.manifest_hash,
            endpoint=f"http://127.0.0.1:{request.manifest.target.port}",  # type: ignore[union-attr]
            data_capture_percentage=request.manifest.data_capture.sampling_percentage,
            strategy="all at once",
        )

    def deploy(self, *, request: DeployRequest, verify: Verifier) -> ActualState:
        self.deploys += 1
        if self.fail_deploy:
            raise TargetError("the new process exited while starting")
        digest = request.version.artifact_digest
        probability = self.serving_probability.get(request.version.version, self.probability)

        def invoke(rows: list[dict[str, Any]]) -> dict[str, Any]:
            preds = [{"probability": probability, "label": 1} for _ in rows]
            return {"predictions": preds, "model": {"digest": digest}}

        request.journal.before_step(index=1, total=1, percent=100)
        self.steps.append(("before", 1))
        request.journal.heartbeat()
        verify(invoke)
        request.journal.after_switch(index=1, total=1, percent=100)
        request.journal.finishing()
        self.serving[request.env] = request
        self.healthy[request.env] = True
        return self.describe(env=request.env, manifest=request.manifest)

    def health(self, *, env: str, manifest: Manifest) -> bool:
        return self.healthy.get(env, False)

    def invoke(self, *, env: str, manifest: Manifest, instances: list[dict[str, Any]]) -> Any:
        request = self.serving.get(env)
        if request is None:
            raise TargetError("nothing serves")
        probability = self.serving_probability.get(request.version.version, self.probability)
        preds = [{"probability": probability, "label": 1} for _ in instances]
        return {"predictions": preds, "model": {"digest": request.version.artifact_digest}}

    def reconcile(self, *, env: str, manifest: Manifest) -> ActualState:
        return self.describe(env=env, manifest=manifest)

    def rollback(self, *, env: str, manifest: Manifest, previous: ActualState) -> ActualState:
        if self.fail_rollback:
            raise TargetError("the previous process is gone")
        return self.describe(env=env, manifest=manifest)

    def stop(self, *, env: str, manifest: Manifest) -> None:
        self.serving.pop(env, None)
