"""The SageMaker target: real-time endpoints through boto3 (clients made lazily, on first use).

A deploy creates a model and an endpoint config named after the version and manifest hash (both
tagged with the git SHA, manifest hash, version and digest), then ``create_endpoint`` or
``update_endpoint`` with a blue/green ``DeploymentConfig`` (all at once, canary or linear, and
alarm-based auto rollback), waits for ``InService`` with its own polling loop and timeout, syncs
autoscaling, checks the manifest's rollback alarms (CloudWatch ``describe_alarms``: one in
ALARM fails the bake) and runs the smoke tests through ``sagemaker-runtime``. The actual state is
read back from ``describe_endpoint``, ``describe_endpoint_config``, ``list_tags`` and the scalable
target, so a console change (instance count, another endpoint config) shows up as drift. Every AWS
call goes through :class:`foundation.aws.AwsCalls`: a failure is a ``TargetError`` naming the
operation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from foundation.aws import AwsCalls, ClientFactory
from model_deploy.errors import BakeCheckError, TargetError
from model_deploy.manifest.model import Manifest
from model_deploy.targets import sagemaker_spec as spec
from model_deploy.targets.protocol import (
    ActualState,
    DeployRequest,
    Invoker,
    TargetKind,
    Verifier,
)
from model_deploy.targets.waiting import poll_until

T = TypeVar("T")


class SageMakerTarget:
    """Serve environments on SageMaker real-time endpoints.

    ``clients`` makes boto3 clients (``foundation.aws.boto3_clients``); an endpoint has
    ``wait_timeout`` seconds to reach ``InService`` (or disappear), polled every
    ``poll_seconds``.
    """

    kind: TargetKind = "sagemaker"

    def __init__(
        self,
        *,
        clients: ClientFactory,
        wait_timeout: float = 1800.0,
        poll_seconds: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._aws = AwsCalls(clients, error=TargetError)
        self.wait_timeout = wait_timeout
        self.poll_seconds = poll_seconds
        self._sleep = sleep

    def describe(self, *, env: str, manifest: Manifest) -> ActualState:
        """Read the endpoint, its config, tags and autoscaling (``deployed=False`` when absent).

        Raises:
            TargetError: An AWS call failed.
        """
        target = spec.spec_of(manifest)
        name = target.endpoint_name
        endpoint = self._describe_endpoint(name)
        if endpoint is None:
            return ActualState(env=env, target="sagemaker", deployed=False, endpoint=name)
        config_name = endpoint["EndpointConfigName"]
        config = self._call("sagemaker", "describe_endpoint_config", EndpointConfigName=config_name)
        config_tags = self._tags(config["EndpointConfigArn"])
        endpoint_tags = self._tags(endpoint["EndpointArn"])
        configured = spec.variant_of(config.get("ProductionVariants") or [], target.variant_name)
        variant = str(configured.get("VariantName", target.variant_name))
        return spec.read_actual(
            env=env,
            endpoint=endpoint,
            config=config,
            config_tags=config_tags,
            endpoint_tags=endpoint_tags,
            bounds=self._scaling_bounds(name, variant),
            variant=target.variant_name,
        )

    def deploy(self, *, request: DeployRequest, verify: Verifier) -> ActualState:
        """Create or update the endpoint, wait, sync autoscaling and run the smoke tests.

        ``verify`` (the smoke tests) runs through ``invoke_endpoint`` once the endpoint serves
        the new config.

        Raises:
            TargetError: An AWS call failed, the wait timed out, or SageMaker rolled back.
            SmokeTestError: A smoke test failed (the caller rolls back).
        """
        manifest = request.manifest
        target = spec.spec_of(manifest)
        name = spec.resource_name(
            endpoint=target.endpoint_name,
            version=request.version.version,
            manifest_hash=request.manifest_hash,
        )
        self._ensure_model(request=request, name=name)
        self._ensure_config(request=request, name=name)
        endpoint_tags = [
            t
            for t in spec.deployment_tags(request)
            if t["Key"] in (spec.TAG_ENV, spec.TAG_MANIFEST, spec.TAG_GIT, spec.TAG_VERSION)
        ]
        existing = self._describe_endpoint(target.endpoint_name)
        request.journal.before_step(index=1, total=1, percent=100)
        if existing is None:
            self._call(
                "sagemaker", "create_endpoint",
                EndpointName=target.endpoint_name, EndpointConfigName=name, Tags=endpoint_tags,
            )  # fmt: skip
        else:
            self._deregister_scaling(target.endpoint_name, target.variant_name)
            self._call(
                "sagemaker", "update_endpoint",
                EndpointName=target.endpoint_name, EndpointConfigName=name,
                DeploymentConfig=spec.deployment_config(manifest),
            )  # fmt: skip
        endpoint = self._wait_in_service(target.endpoint_name, beat=request.journal.heartbeat)
        if endpoint["EndpointConfigName"] != name:
            self.check_alarms(manifest)  # a rollback alarm that fired is the new version's fault
            raise TargetError(
                f"SageMaker rolled the update of {target.endpoint_name} back; it still uses "
                f"{endpoint['EndpointConfigName']}"
            )
        request.journal.after_switch(index=1, total=1, percent=100)
        self._sync_scaling(manifest)
        self.check_alarms(manifest)
        verify(self._invoker(target.endpoint_name))
        self.check_alarms(manifest)
        request.journal.finishing()
        if existing is not None:  # tag the endpoint only once the new version is verified
            self._call(
                "sagemaker", "add_tags", ResourceArn=existing["EndpointArn"], Tags=endpoint_tags
            )
        return self.describe(env=request.env, manifest=manifest)

    def health(self, *, env: str, manifest: Manifest) -> bool:
        """Whether the endpoint exists and is ``InService``."""
        endpoint = self._describe_endpoint(spec.spec_of(manifest).endpoint_name)
        return endpoint is not None and endpoint.get("EndpointStatus") == "InService"

    def invoke(
        self, *, env: str, manifest: Manifest, instances: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Score rows with ``invoke_endpoint`` (JSON).

        Raises:
            TargetError: The call failed or the answer is not a JSON object.
        """
        return self._invoker(spec.spec_of(manifest).endpoint_name)(instances)

    def rollback(self, *, env: str, manifest: Manifest, previous: ActualState) -> ActualState:
        """Point the endpoint back at the previous endpoint config (or delete a new endpoint)."""
        target = spec.spec_of(manifest)
        if not previous.deployed:
            self.stop(env=env, manifest=manifest)
            return self.describe(env=env, manifest=manifest)
        config_name = previous.details.get("endpoint_config")
        current = self._describe_endpoint(target.endpoint_name)
        if config_name and current and current.get("EndpointConfigName") != config_name:
            self._deregister_scaling(target.endpoint_name, target.variant_name)
            self._call(
                "sagemaker", "update_endpoint",
                EndpointName=target.endpoint_name, EndpointConfigName=config_name,
            )  # fmt: skip
            self._wait_in_service(target.endpoint_name)
        bounds = spec.scaling_bounds_of(previous)
        if bounds is not None:
            self._register_scaling(
                target.endpoint_name, target.variant_name, low=bounds[0], high=bounds[1]
            )
        return self.describe(env=env, manifest=manifest)

    def stop(self, *, env: str, manifest: Manifest) -> None:
        """Delete the endpoint (models and configs stay, for history) and wait until it is gone."""
        target = spec.spec_of(manifest)
        if self._describe_endpoint(target.endpoint_name) is None:
            return
        self._deregister_scaling(target.endpoint_name, target.variant_name)
        self._call("sagemaker", "delete_endpoint", EndpointName=target.endpoint_name)
        self._wait_gone(target.endpoint_name)

    def reconcile(self, *, env: str, manifest: Manifest) -> ActualState:
        """Wait for an update still in flight (SageMaker finishes or rolls it back itself).

        The deployer then points the endpoint back at the config that served before, when
        the interrupted run had not verified the new one.
        """
        name = spec.spec_of(manifest).endpoint_name
        endpoint = self._describe_endpoint(name)
        if endpoint is not None and endpoint.get("EndpointStatus") not in ("InService", "Failed"):
            self._wait_in_service(name)
        return self.describe(env=env, manifest=manifest)

    def check_alarms(self, manifest: Manifest) -> None:
        """Fail when one of the manifest's rollback alarms is in ALARM.

        Raises:
            BakeCheckError: An alarm is in ALARM (its reason is named).
            TargetError: An alarm does not exist, or CloudWatch failed.
        """
        names = list(manifest.rollback_alarms)
        if not names:
            return
        found = self._call("cloudwatch", "describe_alarms", AlarmNames=names)
        alarms = {
            str(alarm["AlarmName"]): alarm
            for alarm in (found.get("MetricAlarms") or []) + (found.get("CompositeAlarms") or [])
        }
        missing = [name for name in names if name not in alarms]
        if missing:
            raise TargetError(
                f"rollback alarm(s) {', '.join(missing)} do not exist in CloudWatch; create "
                "them or remove them from rollback_alarms"
            )
        firing = [
            f"{name} ({alarms[name].get('StateReason') or 'no reason given'})"
            for name in names
            if alarms[name].get("StateValue") == "ALARM"
        ]
        if firing:
            raise BakeCheckError(f"CloudWatch alarm(s) in ALARM: {'; '.join(firing)}")

    # -- AWS plumbing ----------------------------------------------------------------------

    def _call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        return self._aws.call(service, operation, **kwargs)

    def _describe_endpoint(self, name: str) -> dict[str, Any] | None:
        return self._aws.call_or_none("sagemaker", "describe_endpoint", EndpointName=name)

    def _tags(self, arn: str) -> dict[str, str]:
        return spec.tag_dict(self._call("sagemaker", "list_tags", ResourceArn=arn).get("Tags", []))

    def _ensure_model(self, *, request: DeployRequest, name: str) -> None:
        if self._aws.call_or_none("sagemaker", "describe_model", ModelName=name) is not None:
            return
        self._call(
            "sagemaker", "create_model",
            ModelName=name, ExecutionRoleArn=spec.spec_of(request.manifest).execution_role_arn,
            PrimaryContainer=spec.primary_container(request), Tags=spec.deployment_tags(request),
        )  # fmt: skip

    def _ensure_config(self, *, request: DeployRequest, name: str) -> None:
        found = self._aws.call_or_none(
            "sagemaker", "describe_endpoint_config", EndpointConfigName=name
        )
        if found is not None:
            return
        body = spec.endpoint_config_request(request=request, name=name)
        self._call("sagemaker", "create_endpoint_config", **body)

    def _wait_in_service(
        self, name: str, *, beat: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """Poll ``describe_endpoint`` until the endpoint is ``InService``; ``beat`` each poll.

        Raises:
            TargetError: It failed, disappeared, or the wait timed out.
        """
        seen = ["unknown"]

        def probe() -> dict[str, Any] | None:
            if beat is not None:
                beat()
            endpoint = self._describe_endpoint(name)
            if endpoint is None:
                raise TargetError(f"endpoint {name} disappeared while waiting for InService")
            seen[0] = str(endpoint.get("EndpointStatus"))
            if seen[0] == "Failed":
                reason = endpoint.get("FailureReason", "no reason given")
                raise TargetError(f"endpoint {name} failed: {reason}")
            return endpoint if seen[0] == "InService" else None

        return self._poll(probe, goal="for InService", name=name, seen=seen)

    def _wait_gone(self, name: str) -> None:
        seen = ["unknown"]

        def probe() -> bool | None:
            endpoint = self._describe_endpoint(name)
            if endpoint is None:
                return True
            seen[0] = str(endpoint.get("EndpointStatus"))
            return None

        self._poll(probe, goal="to be deleted", name=name, seen=seen)

    def _poll(self, probe: Callable[[], T | None], *, goal: str, name: str, seen: list[str]) -> T:
        return poll_until(
            probe,
            timeout=self.wait_timeout,
            interval=self.poll_seconds,
            sleep=self._sleep,
            on_timeout=lambda: (
                f"timed out after {self.wait_timeout:g} s waiting {goal} on endpoint {name} "
                f"(status {seen[0]})"
            ),
        )

    def _invoker(self, name: str) -> Invoker:
        def invoke(instances: list[dict[str, Any]]) -> dict[str, Any]:
            answer = self._call(
                "sagemaker-runtime", "invoke_endpoint",
                EndpointName=name, ContentType="application/json", Accept="application/json",
                Body=json.dumps({"instances": instances}).encode(),
            )  # fmt: skip
            raw = answer["Body"].read()
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise TargetError(f"endpoint {name} answered non-JSON: {raw[:80]!r}") from exc
            if not isinstance(body, dict):
                raise TargetError(f"endpoint {name} answered a JSON {type(body).__name__}")
            return body

        return invoke

    def _resource_id(self, endpoint: str, variant: str) -> str:
        return f"endpoint/{endpoint}/variant/{variant}"

    def _scaling_bounds(self, endpoint: str, variant: str) -> tuple[int, int] | None:
        found = self._call(
            "application-autoscaling", "describe_scalable_targets",
            ServiceNamespace="sagemaker", ResourceIds=[self._resource_id(endpoint, variant)],
            ScalableDimension=spec.SCALABLE_DIMENSION,
        )  # fmt: skip
        targets = found.get("ScalableTargets") or []
        if not targets:
            return None
        return int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"])

    def _register_scaling(self, endpoint: str, variant: str, *, low: int, high: int) -> None:
        self._call(
            "application-autoscaling", "register_scalable_target",
            ServiceNamespace="sagemaker", ResourceId=self._resource_id(endpoint, variant),
            ScalableDimension=spec.SCALABLE_DIMENSION, MinCapacity=low, MaxCapacity=high,
        )  # fmt: skip

    def _deregister_scaling(self, endpoint: str, variant: str) -> None:
        if self._scaling_bounds(endpoint, variant) is None:
            return
        self._call(
            "application-autoscaling", "deregister_scalable_target",
            ServiceNamespace="sagemaker", ResourceId=self._resource_id(endpoint, variant),
            ScalableDimension=spec.SCALABLE_DIMENSION,
        )  # fmt: skip

    def _sync_scaling(self, manifest: Manifest) -> None:
        target = spec.spec_of(manifest)
        if target.autoscaling is None:
            self._deregister_scaling(target.endpoint_name, target.variant_name)
            return
        self._register_scaling(
            target.endpoint_name,
            target.variant_name,
            low=target.autoscaling.min_capacity,
            high=target.autoscaling.max_capacity,
        )
