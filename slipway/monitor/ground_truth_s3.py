"""Ground truth kept in S3 (``SLIPWAY_MONITOR_GROUND_TRUTH_S3``), in the same layout as on disk.

``<prefix>/<endpoint>/yyyy/mm/dd/hh/labels-<digest>.jsonl``, SageMaker's ground-truth layout,
so scheduled runs on fresh machines (CI) see the labels ingested elsewhere. A run or an
ingestion first mirrors the endpoint's objects into a local folder (:func:`download_labels`),
works on it as on the local layout, and an ingestion uploads the file it wrote
(:func:`upload_labels`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slipway.monitor.errors import MonitorRunError

ClientFactory = Callable[[str], Any]


def _split(prefix: str) -> tuple[str, str]:
    from foundation.aws import split_s3

    parts = split_s3(prefix.rstrip("/") + "/x")
    if parts is None:
        raise MonitorRunError(f"not an s3:// ground-truth prefix: {prefix!r}")
    bucket, key = parts
    return bucket, key[:-1]


def download_labels(
    *,
    prefix: str,
    endpoint: str,
    root: Path,
    clients: ClientFactory,
    since: datetime | None = None,
) -> list[Path]:
    """Mirror ``<prefix>/<endpoint>/`` (hour folders from ``since``'s on) into ``root/<endpoint>``.

    Raises:
        MonitorRunError: Not an ``s3://`` prefix, no such bucket, or S3 failed.
    """
    from foundation.aws import AwsCalls

    bucket, base = _split(prefix)
    calls = AwsCalls(clients, error=MonitorRunError)
    first = None if since is None else f"{since.astimezone(UTC):%Y/%m/%d/%H}"
    folder = f"{base}{endpoint}/"
    got: list[Path] = []
    token: str | None = None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        page = calls.call_or_none("s3", "list_objects_v2", Bucket=bucket, Prefix=folder, **extra)
        if page is None:
            raise MonitorRunError(f"s3://{bucket}: no such bucket (ground truth)")
        for item in page.get("Contents") or []:
            relative = str(item["Key"])[len(folder) :]
            parts = relative.split("/")
            if len(parts) != 5 or not parts[-1].endswith(".jsonl"):
                continue
            if first is not None and "/".join(parts[:4]) < first:
                continue
            target = root / endpoint / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            calls.download(f"s3://{bucket}/{item['Key']}", path=target, ref="ground truth")
            got.append(target)
        token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        if not token:
            return got


def upload_labels(*, path: Path, root: Path, prefix: str, clients: ClientFactory) -> str:
    """Upload one ground-truth file written under ``root``; its ``s3://`` URI.

    Raises:
        MonitorRunError: Not an ``s3://`` prefix, or S3 failed.
    """
    from foundation.aws import AwsCalls

    bucket, base = _split(prefix)
    key = base + path.relative_to(root).as_posix()
    return AwsCalls(clients, error=MonitorRunError).upload_file(path, bucket=bucket, key=key)
