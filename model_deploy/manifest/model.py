"""The environment manifest: the desired state of one model in one environment, as in git.

One YAML file per (environment, model): ``model_deploy/environments/<env>/<model>.yaml``. The
environment is the folder (declared in ``model_deploy/environments.yaml``), never the file
name; the loader sets ``environment`` from it and fills in the environment's defaults.

Every model is strict (``extra="forbid"``, no type coercion: ``"1"`` is not a version, ``true``
is not a count), so a typo never silently falls back to a default. ``model: null`` is the
explicit "nothing deployed" state: applying it tears the deployment down.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from model_deploy.manifest.checks import (
    BakeChecks,
    FreezeWindow,
    MetricThreshold,
    PolicySettings,
    ProbabilityRange,
    Promotion,
    SmokeCase,
    SmokeExpect,
    at_least,
    no_repeats,
)
from model_deploy.manifest.monitoring import DEFAULT_MONITORING, Monitoring

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9_])*$"
_ENDPOINT = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
_ENV = r"^[a-z][a-z0-9-]{0,31}$"
_ALARM = r"^[^\s].{0,254}$"


class ModelRef(BaseModel):
    """Which registered model version the environment serves.

    Attributes:
        registry: Registry holding the version: ``local`` (embedded) or ``sagemaker``.
        name: Model name (SageMaker model package group).
        version: Exact registry version (pinned; never "latest").
        feature_service: Feast feature service the model reads online.
    """

    model_config = _STRICT

    registry: Literal["local", "sagemaker"] = "local"
    name: str = Field(pattern=_NAME, max_length=63)
    version: int = Field(ge=1)
    feature_service: str = Field(pattern=_NAME, max_length=128)

    @property
    def ref(self) -> str:
        """``<name>:<version>``."""
        return f"{self.name}:{self.version}"


class LocalTargetSpec(BaseModel):
    """Serve on this machine: one inference process behind a per-environment router.

    Attributes:
        kind: ``local``.
        port: Stable port of the router on 127.0.0.1 (backends get spare ports).
    """

    model_config = _STRICT

    kind: Literal["local"]
    port: int = Field(ge=1024, le=65535)

    @property
    def endpoint(self) -> str:
        """Where clients call it: the router's URL."""
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, tuple[str, str]]:
        """Target settings a plan compares besides the endpoint: none for local processes."""
        return {}


class Autoscaling(BaseModel):
    """Instance count bounds for the endpoint variant (Application Auto Scaling).

    Attributes:
        min_capacity: Fewest instances.
        max_capacity: Most instances (at least ``min_capacity``).
    """

    model_config = _STRICT

    min_capacity: int = Field(ge=1, le=100)
    max_capacity: int = Field(ge=1, le=100)

    @field_validator("max_capacity")
    @classmethod
    def _max_at_least_min(cls, value: int, info: ValidationInfo) -> int:
        return int(at_least(value, info, low_field="min_capacity"))


class SageMakerTargetSpec(BaseModel):
    """Serve on a SageMaker real-time endpoint.

    Attributes:
        kind: ``sagemaker``.
        endpoint_name: Endpoint name (stable across versions).
        instance_type: ML instance type, e.g. ``ml.m5.large``.
        instance_count: Initial instance count of the variant.
        autoscaling: Optional instance count bounds.
        execution_role_arn: IAM role SageMaker assumes for the model.
        image_uri: Inference image; needed when the version has no model package ARN.
        variant_name: Production variant name.
    """

    model_config = _STRICT

    kind: Literal["sagemaker"]
    endpoint_name: str = Field(pattern=_ENDPOINT, max_length=63)
    instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    autoscaling: Autoscaling | None = None
    instance_count: int = Field(ge=1, le=100)
    execution_role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
    image_uri: str | None = Field(default=None, min_length=1, max_length=255)
    variant_name: str = Field(default="AllTraffic", pattern=_ENDPOINT, max_length=63)

    @property
    def endpoint(self) -> str:
        """Where clients call it: the endpoint name."""
        return self.endpoint_name

    def settings(self) -> dict[str, tuple[str, str]]:
        """Target settings a plan compares besides the endpoint: key to (label, value).

        The SageMaker target reads the same keys back into ``ActualState.settings``.
        """
        scale = self.autoscaling
        return {
            "instance_type": ("Instance type", self.instance_type),
            "instance_count": ("Instance count", str(self.instance_count)),
            "autoscaling": (
                "Autoscaling",
                f"{scale.min_capacity}-{scale.max_capacity}" if scale else "-",
            ),
        }

    @field_validator("instance_count")
    @classmethod
    def _count_within_bounds(cls, value: int, info: ValidationInfo) -> int:
        scale = info.data.get("autoscaling")
        if isinstance(scale, Autoscaling) and not (
            scale.min_capacity <= value <= scale.max_capacity
        ):
            raise ValueError(
                f"{value} is outside the autoscaling bounds "
                f"{scale.min_capacity}..{scale.max_capacity}"
            )
        return value


Target = Annotated[LocalTargetSpec | SageMakerTargetSpec, Field(discriminator="kind")]


class DataCapture(BaseModel):
    """Share of requests (and answers) recorded for monitoring.

    Attributes:
        sampling_percentage: 0 (off) to 100.
        destination: ``s3://`` prefix (SageMaker targets); local targets write under the state
            folder.
    """

    model_config = _STRICT

    sampling_percentage: int = Field(default=0, ge=0, le=100)
    destination: str | None = Field(default=None, pattern=r"^s3://[a-z0-9.\-]{3,63}(/\S*)?$")


class AllAtOnce(BaseModel):
    """Shift all traffic to the new version at once (after health and smoke tests)."""

    model_config = _STRICT

    type: Literal["all_at_once"]


class Canary(BaseModel):
    """Send a slice of traffic to the new version, bake, then shift the rest.

    Attributes:
        percent: Share of capacity on the new version while baking (1 to 99).
        bake_minutes: How long the canary serves before the full shift (0 to 60).
    """

    model_config = _STRICT

    type: Literal["canary"]
    percent: int = Field(ge=1, le=99)
    bake_minutes: float = Field(ge=0, le=60)


class Linear(BaseModel):
    """Shift traffic in equal steps with a wait between them.

    Attributes:
        step_percent: Share of capacity moved per step (1 to 99).
        interval_minutes: Wait between steps (0 to 60).
    """

    model_config = _STRICT

    type: Literal["linear"]
    step_percent: int = Field(ge=1, le=99)
    interval_minutes: float = Field(ge=0, le=60)


Strategy = Annotated[AllAtOnce | Canary | Linear, Field(discriminator="type")]


class Manifest(BaseModel):
    """Desired state of one model in one environment.

    Attributes:
        environment: Environment name: set by the loader from the manifest's folder (a file
            that writes it must agree with its folder).
        description: Free text.
        model: The model version to serve, or None for "nothing deployed".
        target: Where and how it is served.
        data_capture: Request/answer capture for monitoring.
        strategy: How traffic moves to a new version.
        rollback_alarms: CloudWatch alarm names that roll a SageMaker deployment back (and
            fail its bake when one is in ALARM).
        bake: Error rate and latency the new version must hold while it bakes.
        smoke_tests: Requests the new endpoint must answer correctly before it takes traffic.
        policy: Per-environment policy parameters (metric thresholds, regression limits).
        promotion: Where versions come from (``promotion: {from: dev}``), if anywhere.
        freeze_windows: Periods when nothing may be applied.
        monitoring: How ``slipway monitor`` checks the deployment (window, drift methods and
            thresholds, tolerances); the monitoring library's defaults when left out.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        allow_inf_nan=False,
        title="Slipway environment manifest",
    )

    environment: str = Field(pattern=_ENV)
    description: str = Field(default="", max_length=500)
    model: ModelRef | None
    target: Target
    data_capture: DataCapture = DataCapture()
    strategy: Strategy = AllAtOnce(type="all_at_once")
    rollback_alarms: list[Annotated[str, Field(pattern=_ALARM)]] = Field(default_factory=list)
    bake: BakeChecks = BakeChecks()
    smoke_tests: list[SmokeCase] = Field(default_factory=list)
    policy: PolicySettings = PolicySettings()
    promotion: Promotion | None = None
    freeze_windows: list[FreezeWindow] = Field(default_factory=list)
    monitoring: Monitoring = DEFAULT_MONITORING

    @field_validator("promotion")
    @classmethod
    def _not_from_itself(cls, value: Promotion | None, info: ValidationInfo) -> Promotion | None:
        if value is not None and value.from_env == info.data.get("environment"):
            raise ValueError(f"an environment cannot take versions from itself ({value.from_env})")
        return value

    @field_validator("rollback_alarms")
    @classmethod
    def _unique_alarms(cls, names: list[str]) -> list[str]:
        no_repeats(names, what="alarm names")
        return names

    @field_validator("smoke_tests")
    @classmethod
    def _unique_case_names(cls, cases: list[SmokeCase]) -> list[SmokeCase]:
        no_repeats([case.name for case in cases], what="smoke test names")
        return cases

    @field_validator("data_capture")
    @classmethod
    def _capture_destination(cls, value: DataCapture, info: ValidationInfo) -> DataCapture:
        target = info.data.get("target")
        if (
            isinstance(target, SageMakerTargetSpec)
            and value.sampling_percentage > 0
            and value.destination is None
        ):
            raise ValueError(
                "destination (an s3:// prefix) is required on a sagemaker target when "
                "sampling_percentage is above 0"
            )
        return value

    def content_hash(self) -> str:
        """``sha256:<hex>`` of the canonical JSON form (comments and formatting do not count).

        Sections added after the first release count only when set (``bake``, ``promotion``,
        ``monitoring``, ``policy.max_regression``, a smoke test's ``labels`` and
        ``prediction``), so a manifest that does not use them keeps its hash.
        """
        document = self.model_dump(mode="json")
        for case in document["smoke_tests"]:
            expect = case["expect"]
            for name in ("labels", "prediction"):
                if expect.get(name) is None:
                    expect.pop(name, None)
            if expect.get("probability") is None:
                expect["probability"] = {"min": 0.0, "max": 1.0}  # the first release's default
        if self.bake == BakeChecks():
            document.pop("bake")
        if self.promotion is None:
            document.pop("promotion")
        if self.monitoring == DEFAULT_MONITORING:
            document.pop("monitoring")
        if not self.policy.max_regression:
            document["policy"].pop("max_regression")
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


__all__ = [
    "AllAtOnce",
    "Autoscaling",
    "BakeChecks",
    "Canary",
    "DataCapture",
    "FreezeWindow",
    "Linear",
    "LocalTargetSpec",
    "Manifest",
    "MetricThreshold",
    "ModelRef",
    "Monitoring",
    "PolicySettings",
    "ProbabilityRange",
    "Promotion",
    "SageMakerTargetSpec",
    "SmokeCase",
    "SmokeExpect",
]
