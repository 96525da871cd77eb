"""A local batch scoring job: plan it (:func:`prepare_batch`), then run it (:func:`run_batch`).

The entity file (Parquet, or CSV by its suffix) is cut into chunks of ``chunk_rows`` rows. Each
chunk gets its features (:mod:`model_build.batch.features`), is scored by the registered
version's bundle (:func:`model_bundle.scoring.predict_columns`: the same answer as the inference
server) and is written as a chunk file; a chunk whose file exists is not done again, so a job
killed at any point and started again with the same arguments finishes the work and writes
the same output as an uninterrupted run (:mod:`model_build.batch.output`). Every chunk is a
step of the :class:`~foundation.progress.StepReporter` (``chunk-<n>``), so a caller can draw a
progress bar; the output carries the model version and the feature service's version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.progress import SILENT, StepReporter
from model_build.batch.features import read_features, required_columns
from model_build.batch.output import (
    file_digest,
    open_parts,
    part_path,
    parts_dir,
    write_output,
    write_part,
)
from model_build.errors import BatchError

if TYPE_CHECKING:
    import pandas as pd

    from feature_store.repo import FeatureRepo
    from model_build.pipeline.steps.training_set import FeatureServiceInfo
    from model_build.registry.protocol import ModelRegistry, ModelVersion
    from model_bundle.bundle import ModelBundle

DEFAULT_CHUNK_ROWS: Final = 100_000


@dataclass
class BatchJob:
    """A planned job (see the module docs).

    Attributes:
        version: The registered version scoring the rows.
        bundle: Its loaded bundle.
        info: The feature service the model reads.
        entities: The entity rows (every input column).
        output: The output file.
        parts: The chunk folder.
        chunks: ``(start, stop)`` row ranges, in order.
        done: Chunks finished before (by an earlier, interrupted run).
        online: Features from the online store (else point in time from the offline store).
        timestamp: The event time column (offline).
        metadata: What the output records about the job.
    """

    version: ModelVersion
    bundle: ModelBundle
    info: FeatureServiceInfo
    entities: pd.DataFrame
    output: Path
    parts: Path
    chunks: list[tuple[int, int]]
    done: set[int]
    online: bool
    timestamp: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    """What a job did.

    Attributes:
        output: The output file.
        rows: Rows scored.
        chunks: Chunks in the job.
        resumed: Chunks an earlier run had finished (not done again).
        seconds: Wall time of this run.
        timings: Seconds spent reading features, predicting and writing (this run).
        metadata: What the output records (model, digest, feature service and its version).
        threads: The estimator's OpenMP/BLAS threads.
    """

    output: Path
    rows: int
    chunks: int
    resumed: int
    seconds: float
    timings: dict[str, float]
    metadata: dict[str, Any]
    threads: int = 1

    @property
    def predict_rows_per_second(self) -> float:
        """Rows scored per second of prediction (features and writing left out)."""
        seconds = self.timings.get("predict", 0.0)
        done = self.rows * (self.chunks - self.resumed) / max(self.chunks, 1)
        return done / seconds if seconds > 0 else 0.0


def prepare_batch(
    *,
    registry: ModelRegistry,
    model_name: str,
    version: int,
    repo: FeatureRepo,
    input_path: Path,
    output: Path,
    online: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    timestamp: str = "event_timestamp",
    fresh: bool = False,
) -> BatchJob:
    """Plan a job: read the entity rows, fetch the bundle, find the chunks already done.

    Raises:
        VersionNotFoundError: No such version.
        BatchError: The entity file is missing, unreadable or lacks a column the feature
            service needs, or the parts folder belongs to another job.
        RegistryError: The bundle cannot be fetched.
    """
    from model_build.pipeline.steps.training_set import describe_feature_service
    from model_bundle.bundle import bundle_digest, load_bundle

    if chunk_rows < 1:
        raise BatchError(f"chunk rows must be at least 1, got {chunk_rows}")
    found = registry.get(model_name=model_name, version=version)
    entities = read_entities(input_path)
    store = repo.open_store()
    info = describe_feature_service(store=store, name=found.feature_service)
    needed = required_columns(info, timestamp=timestamp, online=online)
    missing = [name for name in needed if name not in entities.columns]
    if missing:
        raise BatchError(
            f"{input_path}: missing column(s) {', '.join(missing)} (the feature service "
            f"{info.name} needs {', '.join(needed)})"
        )
    clash = [name for name in _answer_names(found) if name in entities.columns]
    if clash:
        raise BatchError(f"{input_path}: column(s) {', '.join(clash)} would be overwritten")
    rows = len(entities)
    chunks = [(start, min(start + chunk_rows, rows)) for start in range(0, rows, chunk_rows)]
    metadata = {
        "model": found.ref,
        "model_name": found.model_name,
        "model_version": found.version,
        "model_digest": found.artifact_digest,
        "task": str(found.task),
        "feature_service": info.name,
        "feature_service_version": _service_version(store, info.name),
        "features": list(info.inputs),
        "source": "online" if online else "offline",
        "input": input_path.name,
        "input_digest": file_digest(input_path),
        "rows": rows,
        "chunk_rows": chunk_rows,
        "chunks": len(chunks),
    }
    parts = parts_dir(output)
    done = open_parts(parts, plan=metadata, fresh=fresh)
    bundle_dir = parts / "bundle"
    if not (bundle_dir / "bundle.json").is_file():
        registry.fetch_bundle(model_name=model_name, version=version, directory=bundle_dir)
    if bundle_digest(directory=bundle_dir) != found.artifact_digest:
        raise BatchError(f"{bundle_dir}: the fetched bundle's digest differs from {found.ref}'s")
    return BatchJob(
        version=found,
        bundle=load_bundle(directory=bundle_dir),
        info=info,
        entities=entities,
        output=output,
        parts=parts,
        chunks=chunks,
        done=done,
        online=online,
        timestamp=timestamp,
        metadata=metadata,
    )


def run_batch(
    job: BatchJob, *, repo: FeatureRepo, progress: StepReporter = SILENT, threads: int = 0
) -> BatchResult:
    """Score every chunk not done yet, then write the output and remove the chunk folder.

    ``threads`` limits the estimator's OpenMP/BLAS threads (0: :func:`model_threads`, the cores
    the machine's load leaves free; the answers are the same bits whatever the count).
    ``progress`` is told when each chunk (``chunk-<n>``) starts and ends; a chunk done before
    is reported as finished at once.

    Raises:
        BatchError: Feast or the model failed on a chunk (the message names it), or the output
            cannot be written. Finished chunks stay for the next run.
    """
    import shutil

    import pandas as pd
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from model_bundle.bundle import BundleError
    from model_bundle.scoring import predict_columns

    started = time.perf_counter()
    timings = {"features": 0.0, "predict": 0.0, "write": 0.0}
    store = repo.open_store()
    total = len(job.chunks)
    threads = threads or model_threads()
    with threadpool_limits(limits=threads):
        for index, (start, stop) in enumerate(job.chunks):
            name, label = f"chunk-{index}", f"Chunk {index + 1}/{total} (rows {start}-{stop - 1})"
            progress.started(name, label)
            if index in job.done:
                progress.finished(name, f"{label}: done before", ok=True, seconds=0.0)
                continue
            began = time.perf_counter()
            chunk = job.entities.iloc[start:stop].reset_index(drop=True)
            try:
                features = read_features(
                    store=store,
                    info=job.info,
                    entities=chunk,
                    timestamp=job.timestamp,
                    online=job.online,
                )
                timings["features"] += time.perf_counter() - began
                tick = time.perf_counter()
                answers = predict_columns(job.bundle, features)
                timings["predict"] += time.perf_counter() - tick
            except (BatchError, BundleError, ValueError, TypeError) as exc:
                progress.finished(name, label, ok=False, seconds=time.perf_counter() - began)
                raise BatchError(
                    f"chunk {index + 1}/{total} (rows {start}-{stop - 1}): {exc}"
                ) from exc
            tick = time.perf_counter()
            write_part(
                pd.concat([chunk, pd.DataFrame(answers)], axis=1), path=part_path(job.parts, index)
            )
            timings["write"] += time.perf_counter() - tick
            progress.finished(name, label, ok=True, seconds=time.perf_counter() - began)
    tick = time.perf_counter()
    rows = write_output(parts=job.parts, chunks=total, output=job.output, metadata=job.metadata)
    shutil.rmtree(job.parts, ignore_errors=True)
    timings["write"] += time.perf_counter() - tick
    return BatchResult(
        output=job.output,
        rows=rows,
        chunks=total,
        resumed=len(job.done),
        seconds=time.perf_counter() - started,
        timings={k: round(v, 3) for k, v in timings.items()},
        metadata=dict(job.metadata),
        threads=threads,
    )


def model_threads() -> int:
    """The cores the load average leaves free (at least 1, at most every core).

    OpenMP threads spin while they wait: on a shared 2-core machine at load ~10, predicting
    with 2 threads took 2.6x as long as with 1 (docs/benchmarks.md, batch scoring), while on
    an idle machine every core helps.
    """
    import os

    cores = os.cpu_count() or 1
    free = cores - os.getloadavg()[0]
    return max(1, min(cores, int(free + 0.5)))


def read_entities(path: Path) -> pd.DataFrame:
    """The entity rows of a Parquet or CSV file (CSV times are parsed as UTC).

    Raises:
        BatchError: The file is missing or unreadable.
    """
    import pandas as pd

    if not path.is_file():
        raise BatchError(f"{path}: entity file not found")
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path)
            for name in frame.columns:
                if "timestamp" in name or name.endswith("_time"):
                    frame[name] = pd.to_datetime(frame[name], utc=True)
            return frame
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise BatchError(f"{path}: cannot read the entity rows: {exc}") from exc


def _answer_names(version: ModelVersion) -> list[str]:
    return ["prediction"] if str(version.task) == "regression" else ["probability", "label"]


def _service_version(store: Any, name: str) -> str:
    """``sha256:<hex>`` of the feature service's definition (its spec, deterministically)."""
    import hashlib

    spec = store.get_feature_service(name).to_proto().spec
    return f"sha256:{hashlib.sha256(spec.SerializeToString(deterministic=True)).hexdigest()}"
