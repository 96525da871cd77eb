"""A version's monitoring baseline, as the registries store it.

A baseline folder is what :meth:`model_monitor.baseline.Baseline.write` leaves:
``statistics.json`` and ``constraints.json`` (Model Monitor's formats), ``baseline.json``
(Slipway's manifest) and ``reference.parquet`` (the drift reference sample). A registry keeps
the four files as they are, byte for byte, beside the version's bundle:

* ``LocalRegistry``: ``<root>/<model>/<version>/baseline/``, moved into place with the
  version (one commit point);
* ``SageMakerRegistry``: ``s3://<bucket>/<prefix>/<model>/<upload id>/baseline/<file>``, with
  the model package's ``DriftCheckBaselines.ModelDataQuality.Statistics`` and ``Constraints``
  pointing at the two JSON files (what SageMaker Pipelines' ``DriftCheckBaselines`` records);
  the other two files are found beside them.

A version registered without a baseline (before baselines existed) has none: ``fetch_baseline``
returns None for it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from model_build.errors import RegistryError
from model_monitor.baseline import CONSTRAINTS_FILE, MANIFEST_FILE, REFERENCE_FILE, STATISTICS_FILE

if TYPE_CHECKING:
    from foundation.aws import AwsCalls

BASELINE_DIR: Final = "baseline"
"""Folder (local registry) and key prefix (S3) of a version's baseline files."""
BASELINE_FILES: Final = (STATISTICS_FILE, CONSTRAINTS_FILE, MANIFEST_FILE, REFERENCE_FILE)
"""The files of a baseline folder, all required."""
_CONTENT_TYPES: Final = {
    STATISTICS_FILE: "application/json",
    CONSTRAINTS_FILE: "application/json",
    MANIFEST_FILE: "application/json",
    REFERENCE_FILE: "application/vnd.apache.parquet",
}


def check_baseline_dir(directory: Path, *, what: str) -> None:
    """Raise a RegistryError unless ``directory`` holds every baseline file.

    ``what`` names the operation in the message (``register driver_ranking``).
    """
    missing = [name for name in BASELINE_FILES if not (directory / name).is_file()]
    if missing:
        raise RegistryError(
            f"{what}: {directory} is not a baseline folder (missing {', '.join(missing)})"
        )


def copy_baseline(*, src: Path, dst: Path) -> Path:
    """Copy the baseline files from ``src`` into ``dst`` (created), each fsynced; return ``dst``.

    Raises:
        OSError: A file cannot be read or written.
    """
    dst.mkdir(parents=True, exist_ok=True)
    for name in BASELINE_FILES:
        shutil.copyfile(src / name, dst / name)
        with (dst / name).open("rb") as handle:
            os.fsync(handle.fileno())
    return dst


def upload_baseline(
    aws: AwsCalls, *, directory: Path | None, bucket: str, prefix: str
) -> dict[str, Any]:
    """Upload the baseline files in ``directory`` under ``s3://bucket/prefix/baseline/``.

    Returns:
        ``{"DriftCheckBaselines": ...}``, the keyword of ``create_model_package`` that records
        them (empty when ``directory`` is None: no baseline).
    """
    if directory is None:
        return {}
    uris: dict[str, str] = {}
    for name in BASELINE_FILES:
        key = f"{prefix}/{BASELINE_DIR}/{name}"
        aws.call(
            "s3",
            "put_object",
            Bucket=bucket,
            Key=key,
            Body=(directory / name).read_bytes(),
            ContentType=_CONTENT_TYPES[name],
        )
        uris[name] = f"s3://{bucket}/{key}"
    quality = {
        "Statistics": {"ContentType": "application/json", "S3Uri": uris[STATISTICS_FILE]},
        "Constraints": {"ContentType": "application/json", "S3Uri": uris[CONSTRAINTS_FILE]},
    }
    return {"DriftCheckBaselines": {"ModelDataQuality": quality}}


def baseline_uris(description: dict[str, Any]) -> tuple[str, str] | None:
    """``(statistics URI, constraints URI)`` of a ``describe_model_package`` answer, or None."""
    quality = (description.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    statistics = (quality.get("Statistics") or {}).get("S3Uri")
    constraints = (quality.get("Constraints") or {}).get("S3Uri")
    if not statistics or not constraints:
        return None
    return str(statistics), str(constraints)


def download_baseline(
    aws: AwsCalls, *, description: dict[str, Any], directory: Path, ref: str
) -> Path | None:
    """Download a package's baseline files into ``directory`` (created) and return it.

    ``description`` is the package's ``describe_model_package`` answer; its
    ``DriftCheckBaselines`` name the statistics and constraints files, and the manifest and
    the reference sample are read from the statistics file's folder. None when the package
    records no data quality baseline.

    Raises:
        RegistryError: A file is missing or cannot be written.
    """
    uris = baseline_uris(description)
    if uris is None:
        return None
    statistics, constraints = uris
    folder = statistics.rsplit("/", 1)[0]
    sources = {name: f"{folder}/{name}" for name in BASELINE_FILES}
    sources[CONSTRAINTS_FILE] = constraints
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RegistryError(f"{ref}: cannot write the baseline to {directory}: {exc}") from exc
    for name, uri in sources.items():
        aws.download(uri, path=directory / name, ref=f"{ref} baseline")
    return directory
