"""The SageMaker target: real-time endpoints through boto3 (clients made lazily, on first use).

A deploy creates a model and an endpoint config named after the version and manifest hash (both
tagged with the git SHA, manifest hash, version and digest), then ``create_endpoint`` or
``update_endpoint`` with a blue/green ``DeploymentConfig`` (all at once, canary or linear, and
alarm-based auto rollback), waits for ``InService`` with its own polling loop and timeout, syncs
autoscaling and runs the smoke tests through ``sagemaker-runtime``. The actual state is read back
from ``describe_endpoint``, ``describe_endpoint_config``, ``list_tags`` and the scalable target, so
a console change (instance count, another endpoint config) shows up as drift.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from model_deploy.errors import TargetError
from model_deploy.manifest.model import Manifest
from model_deploy.targets import sagemaker_spec as spec
from model_deploy.targets.protocol import (
    ActualState,
    DeployRequest,
    Invoker,
    TargetKind,
    Verifier,
)

ClientFactory = Callable[[str], Any]
"""Makes a boto3 client for a service name (``sagemaker``, ``sagemaker-runtime``...)."""


class SageMakerCallError(TargetError):
    """An AWS call failed; ``code`` is AWS's error code."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class SageMakerTarget:
    """Serve environments on SageMaker real-time endpoints.

    Args:
        clients: Client factory (e.g. ``model_build.registry.aws.boto3_clients``).
        wait_timeout: Seconds an endpoint has to reach ``InService`` (or disappear).
        poll_seconds: Seconds between two ``describe_endpoint`` calls while waiting.
        sleep: Sleep function.
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
        self._factory = clients
        self._clients: dict[str, Any] = {}
        self.wait_timeout = wait_timeout
        self.poll_seconds = poll_seconds
        self._sleep = sleep

    def describe(self, *, env: str, manifest: Manifest) -> ActualState:
        """Read the endpoint, its config, tags and autoscaling.

        Args:
            env: Environment name.
            manifest: Its manifest (endpoint name, variant).

        Returns:
            The actual state (``deployed=False`` when the endpoint does not exist).

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

        Args:
            request: What to deploy.
            verify: Smoke tests, run through ``invoke_endpoint`` once the endpoint is updated.

        Returns:
            The new actual state.

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
        endpoint = self._wait_in_service(target.endpoint_name)
        if endpoint["EndpointConfigName"] != name:
            raise TargetError(
                f"SageMaker rolled the update of {target.endpoint_name} back (a rollback alarm "
                f"fired?); it still uses {endpoint['EndpointConfigName']}"
            )
        self._sync_scaling(manifest)
        verify(self._invoker(target.endpoint_name))
        if existing is not None:  # tag the endpoint only once the new version is verified
            self._call(
                "sagemaker", "add_tags", ResourceArn=existing["EndpointArn"], Tags=endpoint_tags
            )
        return self.describe(env=request.env, manifest=manifest)

    def health(self, *, env: str, manifest: Manifest) -> bool:
        """Whether the endpoint exists and is ``InService``.

        Args:
            env: Environment name.
            manifest: Its manifest.

        Returns:
            True when healthy.
        """
        endpoint = self._describe_endpoint(spec.spec_of(manifest).endpoint_name)
        return endpoint is not None and endpoint.get("EndpointStatus") == "InService"

    def invoke(
        self, *, env: str, manifest: Manifest, instances: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Score rows with ``invoke_endpoint`` (JSON).

        Args:
            env: Environment name.
            manifest: Its manifest.
            instances: Feature rows.

        Returns:
            The decoded answer.
        """
        return self._invoker(spec.spec_of(manifest).endpoint_name)(instances)

    def rollback(self, *, env: str, manifest: Manifest, previous: ActualState) -> ActualState:
        """Point the endpoint back at the previous endpoint config (or delete a new endpoint).

        Args:
            env: Environment name.
            manifest: The manifest that was being applied.
            previous: State read before the deploy.

        Returns:
            The state after the rollback.
        """
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
        if previous.autoscaling_min is not None and previous.autoscaling_max is not None:
            self._register_scaling(
                target.endpoint_name,
                target.variant_name,
                low=previous.autoscaling_min,
                high=previous.autoscaling_max,
            )
        return self.describe(env=env, manifest=manifest)

    def stop(self, *, env: str, manifest: Manifest) -> None:
        """Delete the endpoint (models and configs stay, for history) and wait until it is gone.

        Args:
            env: Environment name.
            manifest: Its manifest.
        """
        target = spec.spec_of(manifest)
        if self._describe_endpoint(target.endpoint_name) is None:
            return
        self._deregister_scaling(target.endpoint_name, target.variant_name)
        self._call("sagemaker", "delete_endpoint", EndpointName=target.endpoint_name)
        self._wait(target.endpoint_name, until_gone=True)

    # -- AWS plumbing ----------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def _call(self, service: str, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client(service), operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            message = str(error.get("Message", ""))
            raise SageMakerCallError(f"{operation} failed: {code}: {message}", code=code) from exc
        except BotoCoreError as exc:
            raise TargetError(f"{operation} failed: {exc}") from exc

    def _describe_endpoint(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._call("sagemaker", "describe_endpoint", EndpointName=name))
        except SageMakerCallError as exc:
            if exc.code == "ValidationException" and "Could not find" in str(exc):
                return None
            raise

    def _tags(self, arn: str) -> dict[str, str]:
        return spec.tag_dict(self._call("sagemaker", "list_tags", ResourceArn=arn).get("Tags", []))

    def _ensure_model(self, *, request: DeployRequest, name: str) -> None:
        try:
            self._call("sagemaker", "describe_model", ModelName=name)
            return
        except SageMakerCallError as exc:
            if exc.code != "ValidationException":
                raise
        self._call(
            "sagemaker", "create_model",
            ModelName=name, ExecutionRoleArn=spec.spec_of(request.manifest).execution_role_arn,
            PrimaryContainer=spec.primary_container(request), Tags=spec.deployment_tags(request),
        )  # fmt: skip

    def _ensure_config(self, *, request: DeployRequest, name: str) -> None:
        try:
            self._call("sagemaker", "describe_endpoint_config", EndpointConfigName=name)
            return
        except SageMakerCallError as exc:
            if exc.code != "ValidationException":
                raise
        body = spec.endpoint_config_request(request=request, name=name)
        self._call("sagemaker", "create_endpoint_config", **body)

    def _wait_in_service(self, name: str) -> dict[str, Any]:
        endpoint = self._wait(name, until_gone=False)
        assert endpoint is not None
        return endpoint

    def _wait(self, name: str, *, until_gone: bool) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.wait_timeout
        status = "unknown"
        while True:
            endpoint = self._describe_endpoint(name)
            if endpoint is None:
                if until_gone:
                    return None
                raise TargetError(f"endpoint {name} disappeared while waiting for InService")
            status = str(endpoint.get("EndpointStatus"))
            if not until_gone and status == "InService":
                return endpoint
            if not until_gone and status == "Failed":
                reason = endpoint.get("FailureReason", "no reason given")
                raise TargetError(f"endpoint {name} failed: {reason}")
            if time.monotonic() >= deadline:
                goal = "to be deleted" if until_gone else "for InService"
                raise TargetError(
                    f"timed out after {self.wait_timeout:g} s waiting {goal} on endpoint {name} "
                    f"(status {status})"
                )
            self._sleep(self.poll_seconds)

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
