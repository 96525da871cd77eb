"""A small project for ``slipway monitor`` tests: manifests, a registered version, capture.

:func:`make_project` writes an environments file and one ``dev/driver_ranking`` manifest (a
local target, or a SageMaker one capturing to S3), registers ``driver_ranking:1`` in a local
registry (a tiny bundle, the metrics given, a baseline of :mod:`model_monitor.simulate`'s
driver data unless ``baseline=False``) and returns the ``SLIPWAY_*`` variables that point the
CLI at it. :func:`router_lines` and :func:`sagemaker_records` write capture the way the local
router (its own record builder, in SageMaker's layout) and SageMaker (or the inference server)
do.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import NewVersion
from model_bundle.bundle import ModelBundle, save_bundle
from model_deploy.targets.local_capture import (
    CAPTURE_VARIANT,
    CaptureTarget,
    capture_folder,
    capture_line,
)
from model_monitor.baseline import build_baseline
from model_monitor.capture import CapturedPayload, CaptureRecord
from model_monitor.simulate import driver_frame, driver_labels, driver_scores

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "drivers-dev"
LOCAL_ENDPOINT = "dev-driver_ranking"
"""The endpoint folder the local router of ``dev/driver_ranking`` writes under its capture."""
DESTINATION = "s3://capture-bucket/datacapture"


@dataclass(frozen=True)
class Project:
    """Where the test project's pieces are."""

    root: Path
    env: dict[str, str]

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def capture_root(self) -> Path:
        """The local router's capture destination of ``dev/driver_ranking``."""
        return self.state_dir / "dev" / "driver_ranking" / "capture"

    def clear_capture(self) -> None:
        """Remove every captured file (between tests sharing the project)."""
        shutil.rmtree(self.capture_root, ignore_errors=True)

    @property
    def ground_truth(self) -> Path:
        return self.root / "monitor" / "ground-truth"


def _manifest(target: str, *, model: bool, monitoring: str) -> str:
    model_block = (
        "model:\n  registry: local\n  name: driver_ranking\n  version: 1\n"
        "  feature_service: driver_ranking_v1\n"
        if model
        else "model: null\n"
    )
    if target == "sagemaker":
        target_block = (
            "target:\n  kind: sagemaker\n  endpoint_name: drivers-dev\n"
            "  instance_type: ml.m5.large\n  instance_count: 1\n"
            "  execution_role_arn: arn:aws:iam::123456789012:role/slipway\n"
            f"data_capture:\n  sampling_percentage: 100\n  destination: {DESTINATION}\n"
        )
    else:
        target_block = (
            "target:\n  kind: local\n  port: 18601\ndata_capture:\n  sampling_percentage: 100\n"
        )
    return f"description: test\n{model_block}{target_block}{monitoring}"


def make_project(
    root: Path,
    *,
    target: str = "local",
    baseline: bool = True,
    model: bool = True,
    metrics: Mapping[str, float] | None = None,
    monitoring: str = "",
) -> Project:
    """Write the project under ``root`` (see the module's docstring).

    ``monitoring`` is the manifest's ``monitoring:`` block as YAML text (none by default).
    """
    manifests = root / "deploy" / "environments"
    (manifests / "dev").mkdir(parents=True)
    (root / "deploy" / "environments.yaml").write_text(
        (ROOT / "model_deploy" / "environments.yaml").read_text()
    )
    (manifests / "dev" / "driver_ranking.yaml").write_text(
        _manifest(target, model=model, monitoring=monitoring)
    )
    registry = LocalRegistry(root / "registry")
    with tempfile.TemporaryDirectory(prefix="slipway-monitor-kit-") as tmp:
        from sklearn.dummy import DummyClassifier

        estimator = DummyClassifier(strategy="prior").fit([[0.0], [1.0]], [0, 1])
        bundle_dir = Path(tmp) / "bundle"
        digest = save_bundle(ModelBundle(estimator=estimator, features=["x"]), directory=bundle_dir)
        baseline_dir = None
        if baseline:
            baseline_dir = Path(tmp) / "baseline"
            training = driver_frame(20_000, seed=1)
            scores = driver_scores(training)
            build_baseline(
                features=training, prediction=scores, predicted_label=driver_labels(scores)
            ).write(directory=baseline_dir)
        new = NewVersion(
            model_name="driver_ranking",
            artifact_digest=digest,
            metrics=dict(metrics or {"roc_auc": 0.8, "accuracy": 0.75}),
            feature_service="driver_ranking_v1",
            features=["x"],
            run_id="kit",
        )
        registry.register(new=new, bundle_dir=bundle_dir, baseline_dir=baseline_dir)
    env = {
        "SLIPWAY_DEPLOY_MANIFESTS_DIR": str(manifests),
        "SLIPWAY_DEPLOY_STATE_DIR": str(root / "state"),
        "SLIPWAY_DEPLOY_STATE": "local",
        "SLIPWAY_REGISTRY": "local",
        "SLIPWAY_REGISTRY_PATH": str(root / "registry"),
        "SLIPWAY_MONITOR_DIR": str(root / "monitor"),
        "SLIPWAY_FEATURE_REPO": str(root / "no-feature-repo"),
    }
    return Project(root, env)


def traffic(
    rows: int, *, seed: int, shift: Mapping[str, float] | None = None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Driver rows, their scores and predicted labels."""
    frame = driver_frame(rows, seed=seed, shift=shift)
    scores = driver_scores(frame)
    return frame, scores, driver_labels(scores)


def _rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")  # type: ignore[return-value]


def router_lines(
    destination: Path,
    *,
    rows: int,
    seed: int,
    start: datetime,
    shift: Mapping[str, float] | None = None,
    step: timedelta = timedelta(seconds=1),
    endpoint: str = LOCAL_ENDPOINT,
) -> list[Path]:
    """Write ``rows`` one-row requests as the local router captures them; the files written.

    One file per UTC hour under ``<destination>/<endpoint>/AllTraffic/yyyy/mm/dd/hh/``.
    """
    frame, scores, labels = traffic(rows, seed=seed, shift=shift)
    target = CaptureTarget(100.0, destination, endpoint, CAPTURE_VARIANT)
    lines: dict[Path, list[bytes]] = {}
    for i, row in enumerate(_rows(frame)):
        answer = {"predictions": [{"probability": float(scores[i]), "label": int(labels[i])}]}
        at = (start + i * step).timestamp()
        lines.setdefault(capture_folder(target, at), []).append(
            capture_line(
                at=at,
                request=json.dumps({"instances": [row]}).encode(),
                request_type="application/json",
                response=json.dumps(answer).encode(),
                response_type="application/json",
            )
        )
    written = []
    for folder, chunk in lines.items():
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"router-{seed}.jsonl"
        with path.open("ab") as handle:
            handle.write(b"".join(chunk))
        written.append(path)
    return written


def sagemaker_records(
    *, rows: int, seed: int, start: datetime, shift: Mapping[str, float] | None = None
) -> tuple[list[CaptureRecord], np.ndarray]:
    """``rows`` capture records with inference ids ``req-<i>``, and the scores."""
    frame, scores, labels = traffic(rows, seed=seed, shift=shift)
    records = []
    for i, row in enumerate(_rows(frame)):
        answer = {"predictions": [{"probability": float(scores[i]), "label": int(labels[i])}]}
        records.append(
            CaptureRecord(
                event_id=f"evt-{seed}-{i}",
                inference_time=start + timedelta(seconds=i),
                endpoint_input=CapturedPayload.from_body(
                    json.dumps({"instances": [row]}).encode(),
                    content_type="application/json",
                    mode="INPUT",
                ),
                endpoint_output=CapturedPayload.from_body(
                    json.dumps(answer).encode(), content_type="application/json", mode="OUTPUT"
                ),
                inference_id=f"req-{i}",
            )
        )
    return records, scores
