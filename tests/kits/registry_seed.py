"""Fill a local registry with small, real versions (for benchmarks and CLI tests)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import NewVersion
from model_bundle.bundle import ModelBundle, save_bundle


def seed(path: Path, *, versions: int = 3, model_name: str = "driver_ranking") -> LocalRegistry:
    """Register ``versions`` tiny classifiers as ``model_name`` in the local registry ``path``."""
    from sklearn.dummy import DummyClassifier

    registry = LocalRegistry(path)
    with tempfile.TemporaryDirectory(prefix="slipway-seed-") as tmp:
        for number in range(versions):
            estimator = DummyClassifier(strategy="prior").fit([[0.0], [1.0]], [0, 1])
            bundle_dir = Path(tmp) / f"bundle-{number}"
            digest = save_bundle(
                ModelBundle(estimator=estimator, features=["x"]), directory=bundle_dir
            )
            new = NewVersion(
                model_name=model_name,
                artifact_digest=digest,
                metrics={"roc_auc": 0.8 + number / 100, "log_loss": 0.4},
                feature_service="driver_ranking_v1",
                features=["x"],
                run_id=f"seed-{number}",
            )
            registry.register(new=new, bundle_dir=bundle_dir)
    return registry
