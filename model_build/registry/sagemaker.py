"""Model registry on SageMaker: one model package group per model, one package per version.

A registration uploads the bundle as ``model.tar.gz`` and a metrics JSON to
``s3://<bucket>/<prefix>/<model>/<upload id>/`` and creates a model package whose
``InferenceSpecification`` points at the archive, whose ``ModelMetrics.ModelQuality.Statistics``
points at the metrics, whose ``DriftCheckBaselines.ModelDataQuality`` points at the monitoring
baseline's ``statistics.json`` and ``constraints.json`` when there is one (see
:mod:`model_build.registry.baselines`), and whose ``CustomerMetadataProperties`` carry the
lineage (see :mod:`model_build.registry.sagemaker_metadata`). The version number is the ARN's
trailing integer.

SageMaker group names allow no ``_``: model ``driver_ranking`` lives in group ``driver-ranking``,
whose description records the model name, so ``driver-ranking`` and ``driver_ranking`` cannot
share a group. Approval reasons go to ``ApprovalDescription`` (control characters become spaces,
cut to 1024 characters).
"""

from __future__ import annotations

import json
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from foundation.aws import AwsCalls, ClientFactory, boto3_clients
from model_build.errors import RegistryError, VersionNotFoundError
from model_build.registry import sagemaker_metadata as meta
from model_build.registry.baselines import check_baseline_dir, download_baseline, upload_baseline
from model_build.registry.groups import ensure_group, find_group
from model_build.registry.protocol import ApprovalStatus, ModelVersion, NewVersion
from model_build.registry.rules import check_transition, validate_new_version, verify_bundle
from model_bundle.bundle import BundleError, pack_bundle, unpack_bundle
from model_bundle.task import DEFAULT_TASK

_TO_SAGEMAKER = {
    ApprovalStatus.PENDING: "PendingManualApproval",
    ApprovalStatus.APPROVED: "Approved",
    ApprovalStatus.REJECTED: "Rejected",
}
_FROM_SAGEMAKER = {value: key for key, value in _TO_SAGEMAKER.items()}


class SageMakerRegistry:
    """Model registry on SageMaker model package groups, artifacts on S3.

    No AWS client is created until the first call. ``image_uri`` is the inference image
    recorded in each package; ``client_factory`` defaults to
    :func:`foundation.aws.boto3_clients` on ``region`` and ``endpoint_url`` (e.g. a moto
    server); ``content_types`` and ``response_types`` are recorded in each package;
    ``page_size`` is the items per page when listing (1-100).
    """

    def __init__(
        self,
        *,
        s3_bucket: str,
        image_uri: str,
        region: str,
        s3_prefix: str = "slipway/models",
        client_factory: ClientFactory | None = None,
        endpoint_url: str | None = None,
        content_types: tuple[str, ...] = ("application/json",),
        response_types: tuple[str, ...] = ("application/json",),
        page_size: int = 100,
    ) -> None:
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix.strip("/")
        self.image_uri = image_uri
        self.region = region
        self.content_types = content_types
        self.response_types = response_types
        self._aws = AwsCalls(
            client_factory or boto3_clients(region=region, endpoint_url=endpoint_url),
            error=RegistryError,
            not_found_error=VersionNotFoundError,
            page_size=page_size,
        )
        self._group_arns: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"SageMakerRegistry(region={self.region!r}, "
            f"artifacts='s3://{self.s3_bucket}/{self.s3_prefix}')"
        )

    def list_models(self) -> list[str]:
        """Names of the models whose groups Slipway created and that have a version, sorted."""
        names = []
        for group in self._aws.paged("list_model_package_groups", "ModelPackageGroupSummaryList"):
            name = meta.owner_of_group(group)
            if name is None or not meta.is_slipway_group(group):
                continue
            first = self._aws.call(
                "sagemaker",
                "list_model_packages",
                ModelPackageGroupName=group["ModelPackageGroupName"],
                MaxResults=1,
            )
            if first.get("ModelPackageSummaryList"):
                names.append(name)
        return sorted(names)

    def register(
        self, *, new: NewVersion, bundle_dir: Path, baseline_dir: Path | None = None
    ) -> ModelVersion:
        """Upload the bundle and metrics (and the baseline) and create a Pending model package.

        ``bundle_dir`` is the model bundle folder; its digest must equal ``new.artifact_digest``.
        ``baseline_dir`` (optional) is the monitoring baseline folder: its files are uploaded
        and recorded as the package's ``DriftCheckBaselines``.

        Raises:
            RegistryError: Digest mismatch, an incomplete baseline folder, metadata beyond the
                API limits, or an AWS error.
        """
        validate_new_version(new)
        verify_bundle(
            bundle_dir=bundle_dir, expected=new.artifact_digest, what=f"register {new.model_name}"
        )
        if baseline_dir is not None:
            check_baseline_dir(baseline_dir, what=f"register {new.model_name}")
        group = self._ensure_group(new.model_name)
        upload_id = str(uuid.uuid4())
        base = f"{self.s3_prefix}/{new.model_name}/{upload_id}".lstrip("/")
        with tempfile.TemporaryDirectory(prefix="slipway-register-") as tmp:
            archive = pack_bundle(directory=bundle_dir, archive=Path(tmp) / "model.tar.gz")
            model_uri = self._aws.upload_file(
                archive, bucket=self.s3_bucket, key=f"{base}/model.tar.gz"
            )
        metrics_doc = {
            "format": 1,
            "model_name": new.model_name,
            "artifact_digest": new.artifact_digest,
            "run_id": new.run_id,
            "metrics": new.metrics,
            "bias": new.bias.model_dump(mode="json") if new.bias else None,
        }
        metrics_uri = self._aws.put_json(
            metrics_doc, bucket=self.s3_bucket, key=f"{base}/metrics.json"
        )
        props = self._properties(new, lineage_key=f"{base}/lineage.json")
        drift = upload_baseline(
            self._aws, directory=baseline_dir, bucket=self.s3_bucket, prefix=base
        )
        created = self._aws.call(
            "sagemaker",
            "create_model_package",
            ModelPackageGroupName=group,
            ModelPackageDescription=meta.sanitize_text(new.description),
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": self.image_uri,
                        "ModelDataUrl": model_uri,
                        "Environment": {"SLIPWAY_BUNDLE_DIGEST": new.artifact_digest},
                    }
                ],
                "SupportedContentTypes": list(self.content_types),
                "SupportedResponseMIMETypes": list(self.response_types),
            },
            ModelApprovalStatus=_TO_SAGEMAKER[ApprovalStatus.PENDING],
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": metrics_uri}
                }
            },
            CustomerMetadataProperties=props,
            ClientToken=upload_id,
            **drift,
        )
        return self._describe(new.model_name, arn=str(created["ModelPackageArn"]))

    def get(self, *, model_name: str, version: int) -> ModelVersion:
        """Return one version.

        Raises:
            VersionNotFoundError: No such model or version.
        """
        return self._to_version(model_name, self._describe_raw(model_name, version))

    def list_versions(
        self, *, model_name: str, status: ApprovalStatus | None = None
    ) -> list[ModelVersion]:
        """All versions of a model, oldest first, optionally only those with ``status``.

        An unknown model has no versions (an empty list).
        """
        try:
            self._group_arn(model_name)
        except VersionNotFoundError:
            return []
        query: dict[str, Any] = {"ModelPackageGroupName": meta.group_name(model_name)}
        if status is not None:
            query["ModelApprovalStatus"] = _TO_SAGEMAKER[status]
        summaries = self._aws.paged(
            "list_model_packages",
            "ModelPackageSummaryList",
            SortBy="CreationTime",
            SortOrder="Ascending",
            **query,
        )
        versions = [self._describe(model_name, arn=s["ModelPackageArn"]) for s in summaries]
        return sorted(versions, key=lambda v: v.version)

    def latest(
        self, *, model_name: str, status: ApprovalStatus | None = ApprovalStatus.APPROVED
    ) -> ModelVersion | None:
        """The newest version with ``status`` (any status if None), or None."""
        try:
            self._group_arn(model_name)
        except VersionNotFoundError:
            return None
        query: dict[str, Any] = {"ModelPackageGroupName": meta.group_name(model_name)}
        if status is not None:
            query["ModelApprovalStatus"] = _TO_SAGEMAKER[status]
        answer = self._aws.call(
            "sagemaker",
            "list_model_packages",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
            **query,
        )
        summaries = answer.get("ModelPackageSummaryList") or []
        if not summaries:
            return None
        return self._describe(model_name, arn=summaries[0]["ModelPackageArn"])

    def set_status(
        self,
        *,
        model_name: str,
        version: int,
        status: ApprovalStatus,
        reason: str = "",
        force: bool = False,
    ) -> ModelVersion:
        """Approve or reject a version (``update_model_package``).

        Raises:
            VersionNotFoundError: No such model or version.
            InvalidTransitionError: The change is not allowed (see ``ModelRegistry``).
        """
        desc = self._describe_raw(model_name, version)
        current = self._to_version(model_name, desc)
        if not check_transition(
            ref=current.ref, current=current.status, target=status, force=force
        ):
            return current
        self._aws.call(
            "sagemaker",
            "update_model_package",
            ModelPackageArn=current.arn,
            ModelApprovalStatus=_TO_SAGEMAKER[status],
            ApprovalDescription=meta.sanitize_text(reason),
            # Sent again unchanged: moto 5.2.5 clears the properties when they are left out.
            CustomerMetadataProperties=desc.get("CustomerMetadataProperties") or {},
        )
        return self.get(model_name=model_name, version=version)

    def fetch_bundle(self, *, model_name: str, version: int, directory: Path) -> Path:
        """Download and unpack the version's ``model.tar.gz`` into ``directory``.

        Raises:
            VersionNotFoundError: No such model or version.
            RegistryError: The archive is missing or unreadable, or its digest differs.
        """
        found = self.get(model_name=model_name, version=version)
        with tempfile.TemporaryDirectory(prefix="slipway-fetch-") as tmp:
            archive = self._aws.download(
                found.artifact_uri, path=Path(tmp) / "model.tar.gz", ref=found.ref
            )
            try:
                unpack_bundle(archive=archive, directory=directory)
            except BundleError as exc:
                raise RegistryError(f"{found.ref}: {exc}") from exc
        verify_bundle(bundle_dir=directory, expected=found.artifact_digest, what=found.ref)
        return directory

    def fetch_baseline(self, *, model_name: str, version: int, directory: Path) -> Path | None:
        """Download the version's baseline files (its ``DriftCheckBaselines``) into ``directory``.

        None when the package records no data quality baseline.

        Raises:
            VersionNotFoundError: No such model or version.
            RegistryError: A baseline file is missing, or an AWS error.
        """
        desc = self._describe_raw(model_name, version)
        return download_baseline(
            self._aws, description=desc, directory=directory, ref=f"{model_name}:{version}"
        )

    # -- internals -----------------------------------------------------------------------------

    def _group_arn(self, model_name: str) -> str:
        """ARN of the model's group; VersionNotFoundError if missing or owned by another name."""
        arn, owner = self._find_group(model_name)
        if arn is None:
            raise VersionNotFoundError(
                f"model {model_name!r} not found (no SageMaker group {meta.group_name(model_name)})"
            )
        if owner != model_name:
            raise VersionNotFoundError(f"model {model_name!r} not found")
        return arn

    def _find_group(self, model_name: str) -> tuple[str | None, str | None]:
        if model_name in self._group_arns:
            return self._group_arns[model_name], model_name
        group = find_group(self._aws, model_name=model_name)
        if group is None:
            return None, None
        if group.owner == model_name:
            self._group_arns[model_name] = group.arn
        return group.arn, group.owner

    def _ensure_group(self, model_name: str) -> str:
        if model_name not in self._group_arns:
            self._group_arns[model_name] = ensure_group(self._aws, model_name=model_name).arn
        return meta.group_name(model_name)

    def _properties(self, new: NewVersion, *, lineage_key: str) -> dict[str, str]:
        fields = meta.version_fields(new)
        props = meta.encode_properties(fields)
        if len(props) > meta.MAX_ENTRIES:  # metrics are also in the statistics document
            props = meta.encode_properties(
                {k: v for k, v in fields.items() if k != meta.METRICS_FIELD}
            )
        if len(props) > meta.MAX_ENTRIES:  # move features, params, description to S3
            uri = self._aws.put_json(
                {"format": 1, **fields}, bucket=self.s3_bucket, key=lineage_key
            )
            core = {k: fields[k] for k in meta.CORE_FIELDS}
            props = meta.encode_properties({**core, meta.LINEAGE_URI_FIELD: uri})
        meta.check_limits(props)
        return props

    def _describe(self, model_name: str, *, arn: str) -> ModelVersion:
        return self._to_version(model_name, self._describe_raw(model_name, arn))

    def _describe_raw(self, model_name: str, version_or_arn: int | str) -> dict[str, Any]:
        if isinstance(version_or_arn, str):
            arn = version_or_arn
        else:
            group_arn = self._group_arn(model_name)
            if version_or_arn < 1:
                raise VersionNotFoundError(f"{model_name}:{version_or_arn} not found")
            arn = group_arn.replace(":model-package-group/", ":model-package/", 1)
            arn += f"/{version_or_arn}"
        return self._aws.call(
            "sagemaker",
            "describe_model_package",
            not_found=f"{model_name}:{arn.rsplit('/', 1)[-1]} not found",
            ModelPackageName=arn,
        )

    def _to_version(self, model_name: str, desc: dict[str, Any]) -> ModelVersion:
        arn = str(desc["ModelPackageArn"])
        number = arn.rsplit("/", 1)[-1]
        ref = f"{model_name}:{number}"
        fields = meta.decode_properties(desc.get("CustomerMetadataProperties") or {})
        if "artifact_digest" not in fields:
            raise RegistryError(f"{ref} ({arn}) was not registered by Slipway (no lineage)")
        if meta.LINEAGE_URI_FIELD in fields:
            doc = self._aws.get_json(fields[meta.LINEAGE_URI_FIELD], ref=ref)
            fields = {**{k: str(v) for k, v in doc.items() if k != "format"}, **fields}
        if meta.METRICS_FIELD in fields:
            metrics = json.loads(fields[meta.METRICS_FIELD])
        else:
            stats = desc["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
            metrics = self._aws.get_json(stats, ref=ref)["metrics"]
        containers = (desc.get("InferenceSpecification") or {}).get("Containers") or [{}]
        created: datetime = desc["CreationTime"]
        return ModelVersion(
            model_name=model_name,
            task=fields.get("task") or DEFAULT_TASK,
            artifact_digest=fields["artifact_digest"],
            metrics=metrics,
            params=json.loads(fields.get("params", "{}")),
            git_sha=fields.get("git_sha", ""),
            data_hash=fields.get("data_hash", ""),
            feature_service=fields.get("feature_service", ""),
            features=json.loads(fields.get("features", "[]")),
            run_id=fields.get("run_id", ""),
            description=fields.get("description", ""),
            tracking=json.loads(fields["tracking"]) if fields.get("tracking") else None,
            bias=json.loads(fields["bias"]) if fields.get("bias") else None,
            version=int(number),
            status=_FROM_SAGEMAKER[desc["ModelApprovalStatus"]],
            artifact_uri=str(containers[0].get("ModelDataUrl", "")),
            created_at=created.astimezone(UTC),
            status_reason=str(desc.get("ApprovalDescription") or ""),
            arn=str(desc["ModelPackageArn"]),
        )
