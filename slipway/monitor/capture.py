"""A deployment's captured requests over a window, as ``model_monitor``'s ``CaptureWindow``.

Two places, both in SageMaker's layout ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``
and read into one window (:func:`load_capture`):

* a local folder: for a local target ``<state>/<env>/<name>/capture``, where the router writes
  ``<env>-<name>/AllTraffic/...`` (every ``<endpoint>/<variant>`` folder under it is read, so
  an inference server's own ``--capture-dir`` files there count too);
* S3: the window's hour folders are listed and downloaded (boto3 through ``foundation.aws``)
  into a work folder first.

Bad lines are counted in the window's ``ReadReport``, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.monitor.deployments import CaptureSource
from slipway.monitor.errors import MonitorRunError

if TYPE_CHECKING:
    from model_monitor.columns import Schema
    from model_monitor.frame import CaptureWindow

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class LoadedCapture:
    """The window and the files it was read from.

    Attributes:
        window: The capture window (frame, read report, counts).
        files: Capture files read (after any download).
    """

    window: CaptureWindow
    files: tuple[Path, ...]


def load_capture(
    *,
    source: CaptureSource,
    schema: Schema | None,
    since: datetime,
    until: datetime,
    work_dir: Path,
    clients: ClientFactory | None = None,
    workers: int = 1,
) -> LoadedCapture:
    """Read ``source``'s records with ``inferenceTime`` in ``[since, until)``.

    ``work_dir`` receives S3 downloads (the caller removes it);
    ``clients`` makes boto3 clients for an S3 source.

    Raises:
        MonitorRunError: An S3 source without ``clients``, or S3 cannot be listed or read.
        CaptureError: ``since`` is not before ``until``.
    """
    from model_monitor.frame import load_window
    from model_monitor.reader import capture_files

    files: list[Path] = []
    if source.kind == "s3":
        if clients is None:
            raise MonitorRunError(f"{source.describe()}: no AWS client to read the capture")
        root = work_dir / "s3"
        download_window(source, since=since, until=until, root=root, clients=clients)
        files += capture_files(
            destination=root, endpoint=source.endpoint, variant=source.variant,
            since=since, until=until,
        )  # fmt: skip
    else:
        files += _layout_files(Path(source.destination), since=since, until=until)
    window = load_window(files=files, schema=schema, since=since, until=until, workers=workers)
    return LoadedCapture(window, tuple(files))


def _layout_files(root: Path, *, since: datetime, until: datetime) -> list[Path]:
    """SageMaker-layout files under every ``<endpoint>/<variant>`` folder of ``root``."""
    from model_monitor.reader import capture_files

    found: list[Path] = []
    if not root.is_dir():
        return found
    for endpoint in sorted(p for p in root.iterdir() if p.is_dir()):
        for variant in sorted(p for p in endpoint.iterdir() if p.is_dir()):
            found += capture_files(
                destination=root, endpoint=endpoint.name, variant=variant.name,
                since=since, until=until,
            )  # fmt: skip
    return found


def download_window(
    source: CaptureSource, *, since: datetime, until: datetime, root: Path, clients: ClientFactory
) -> list[Path]:
    """Download the objects of the window's hour folders into ``root``, in the same layout.

    Raises:
        MonitorRunError: Not an ``s3://`` prefix, or S3 cannot be listed or read (the
            message names the prefix and AWS's error).
    """
    from foundation.aws import AwsCalls, split_s3

    parts = split_s3(source.destination.rstrip("/") + "/x")
    if parts is None:
        raise MonitorRunError(f"not an s3:// capture destination: {source.destination!r}")
    bucket, key = parts
    base = key[:-1]  # the prefix, with its trailing slash ("" at the bucket's root)
    calls = AwsCalls(clients, error=MonitorRunError)
    got: list[Path] = []
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while hour < until:
        folder = f"{source.endpoint}/{source.variant}/{hour:%Y/%m/%d/%H}/"
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = calls.call_or_none(
                "s3", "list_objects_v2", Bucket=bucket, Prefix=base + folder, **extra
            )
            if page is None:
                raise MonitorRunError(f"s3://{bucket}: no such bucket (capture destination)")
            for item in page.get("Contents") or []:
                name = str(item["Key"]).rsplit("/", 1)[-1]
                if not name.endswith(".jsonl"):
                    continue
                target = root / folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                calls.download(f"s3://{bucket}/{item['Key']}", path=target, ref="capture")
                got.append(target)
            token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
            if not token:
                break
        hour += timedelta(hours=1)
    return got
