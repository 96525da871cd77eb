"""What a plan shows about versions: registry evidence and serving-vs-candidate metrics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from model_build.registry.compare import compare_metrics
from model_build.registry.protocol import BiasRecord, ModelVersion, TrackingLink
from model_deploy.manifest.model import Manifest


class MetricRow(BaseModel):
    """One registry metric, serving version against candidate.

    Attributes:
        name: Metric name.
        serving: Serving version's value.
        candidate: Candidate version's value.
        delta: ``candidate - serving`` when both exist.
        lower_is_better: Whether smaller is better.
        verdict: ``better``, ``worse``, ``same``, ``only in A`` (serving) or ``only in B``.
        minimum: The manifest's lower bound, if any.
        maximum: The manifest's upper bound, if any.
        meets_threshold: Whether the candidate meets the bounds (None without bounds).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    serving: float | None
    candidate: float | None
    delta: float | None
    lower_is_better: bool
    verdict: str
    minimum: float | None = None
    maximum: float | None = None
    meets_threshold: bool | None = None


class Evidence(BaseModel):
    """What a version is, from the registry: what the reviewer approves.

    Attributes:
        ref: ``<model>:<version>``.
        status: Registry approval status.
        artifact_digest: Bundle digest.
        artifact_uri: Where the bundle lives.
        git_sha: Commit the model was built from.
        data_hash: Hash of the training data snapshot.
        feature_service: Feature service it reads.
        arn: Registry-native identifier, if any.
        created_at: Registration time.
        tracking: The build's MLflow run (None: the build was not tracked).
        bias: The bias metrics and the build gate's bounds (None: no sensitive attribute).
    """

    model_config = ConfigDict(frozen=True)

    ref: str
    status: str
    artifact_digest: str
    artifact_uri: str
    git_sha: str
    data_hash: str
    feature_service: str
    arn: str | None
    created_at: datetime
    tracking: TrackingLink | None = None
    bias: BiasRecord | None = None

    @classmethod
    def of(cls, version: ModelVersion) -> Evidence:
        """Evidence of a registry record."""
        return cls(
            ref=version.ref,
            status=str(version.status),
            artifact_digest=version.artifact_digest,
            artifact_uri=version.artifact_uri,
            git_sha=version.git_sha,
            data_hash=version.data_hash,
            feature_service=version.feature_service,
            arn=version.arn,
            created_at=version.created_at,
            tracking=version.tracking,
            bias=version.bias,
        )


def metric_rows(
    manifest: Manifest, *, candidate: ModelVersion | None, serving: ModelVersion | None
) -> list[MetricRow]:
    """Serving-vs-candidate metrics with the manifest's thresholds, one row per metric."""
    if candidate is None:
        return []
    baseline = serving.metrics if serving and serving.ref != candidate.ref else {}
    rows = []
    for delta in compare_metrics(baseline, candidate.metrics):
        bound = manifest.policy.thresholds.get(delta.name)
        meets = None
        if bound is not None and delta.b is not None:
            meets = (bound.min is None or delta.b >= bound.min) and (
                bound.max is None or delta.b <= bound.max
            )
        rows.append(
            MetricRow(
                name=delta.name,
                serving=delta.a,
                candidate=delta.b,
                delta=delta.delta,
                lower_is_better=delta.lower_is_better,
                verdict=delta.verdict,
                minimum=bound.min if bound else None,
                maximum=bound.max if bound else None,
                meets_threshold=meets,
            )
        )
    return rows
