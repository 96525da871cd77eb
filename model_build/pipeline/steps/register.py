"""Step 6, register: record the bundle and its lineage as a new Pending version.

Lineage: artifact digest, task, holdout metrics, the model definition, git commit, data snapshot
hash, feature service and the ordered feature list; the monitoring baseline is stored with the
version. Approval is a separate, human step.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from model_build.registry.protocol import NewVersion

if TYPE_CHECKING:
    from model_build.definition.schema import ModelDefinition
    from model_build.registry.protocol import ModelRegistry, ModelVersion


def git_sha(*, cwd: Path | None = None) -> str:
    """The 40-character commit checked out in ``cwd`` (``git rev-parse HEAD``), or ``unknown``.

    ``cwd`` is any folder inside the work tree (the current folder when None); ``unknown`` means
    git or the repository is unavailable.
    """
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and len(sha) == 40 else "unknown"


def new_version(
    *,
    definition: ModelDefinition,
    artifact_digest: str,
    metrics: dict[str, float],
    data_hash: str,
    features: list[str],
    run_id: str,
    git_commit: str,
    description: str = "",
) -> NewVersion:
    """Assemble what is registered (pure).

    The model name, task, feature service and lineage params come from ``definition``;
    ``features`` are the bundle's ordered features; ``git_commit`` is the commit the build ran
    from.
    """
    return NewVersion(
        model_name=definition.name,
        task=definition.task,
        artifact_digest=artifact_digest,
        metrics=dict(metrics),
        params=definition.lineage(),
        git_sha=git_commit,
        data_hash=data_hash,
        feature_service=definition.model.feature_service,
        features=list(features),
        run_id=run_id,
        description=description,
    )


def register_model(
    *,
    registry: ModelRegistry,
    new: NewVersion,
    bundle_dir: Path,
    baseline_dir: Path | None = None,
) -> ModelVersion:
    """Register the bundle in ``bundle_dir`` as a new Pending version (see :func:`new_version`).

    The bundle's digest must equal ``new.artifact_digest``. ``baseline_dir`` is the monitoring
    baseline folder stored with the version (None: the version has no baseline).

    Raises:
        RegistryError: The registry refused (digest mismatch, storage failure...).
    """
    if baseline_dir is None:
        return registry.register(new=new, bundle_dir=bundle_dir)
    return registry.register(new=new, bundle_dir=bundle_dir, baseline_dir=baseline_dir)
