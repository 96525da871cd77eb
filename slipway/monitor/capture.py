"""A deployment's captured requests over a window, as ``model_monitor``'s ``CaptureWindow``.

Three places, all read into one window (:func:`load_capture`):

* the local router's file (``.../capture/invocations.jsonl``): one JSON object per request,
  ``{"at", "status", "request", "response"}``; each is turned into a SageMaker capture record
  (``eventId`` derived from the file and line so reruns agree; ``inferenceId`` from an
  ``inference_id`` field and the content types from ``request_type`` / ``response_type``
  when the router records them, else JSON for a body that looks like JSON, CSV otherwise).
  Lines that already are SageMaker records are taken as they are. Requests that failed (HTTP
  status 400 and above) are not analysed, and a warning counts them;
* SageMaker-layout files on disk (``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``);
* the same layout in S3: the window's hour folders are listed and downloaded (boto3 through
  ``foundation.aws``) into a work folder first.

Bad lines are counted in the window's ``ReadReport`` (the router file's with their line
numbers), never raised.
"""

from __future__ import annotations

import json
import uuid
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
    from model_monitor.reader import ReadReport

_NAMESPACE = uuid.UUID("6f1c1c1e-8f4e-4d55-9a55-2f1f7d0a4b11")
_ROUTER_RECORDS = "router-records.jsonl"

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class LoadedCapture:
    """The window and what reading it met beyond the window's own warnings.

    Attributes:
        window: The capture window (frame, read report, counts).
        files: Capture files read (after any download).
        failed_requests: Router lines of failed requests (status >= 400), not analysed.
    """

    window: CaptureWindow
    files: tuple[Path, ...]
    failed_requests: int = 0

    def warnings(self) -> list[str]:
        """Sentences about what was left out here (the window's own warnings excepted)."""
        if not self.failed_requests:
            return []
        return [f"{self.failed_requests} captured requests failed (HTTP 4xx/5xx): not analysed"]


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

    ``work_dir`` receives converted router records and S3 downloads (the caller removes it);
    ``clients`` makes boto3 clients for an S3 source.

    Raises:
        MonitorRunError: An S3 source without ``clients``, or S3 cannot be listed or read.
        CaptureError: ``since`` is not before ``until``.
    """
    from model_monitor.frame import load_window
    from model_monitor.reader import ReadReport, capture_files

    report = ReadReport()
    files: list[Path] = []
    failed = 0
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
        root = Path(source.destination)
        files += _layout_files(root, since=since, until=until)
        if source.router_file is not None and source.router_file.is_file():
            converted = work_dir / _ROUTER_RECORDS
            failed = convert_router_file(
                source.router_file, out=converted, report=report, since=since, until=until
            )
            files.append(converted)
    window = load_window(files=files, schema=schema, since=since, until=until, workers=workers)
    window.report.merge(report)
    return LoadedCapture(window, tuple(files), failed)


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


def convert_router_file(
    path: Path,
    *,
    out: Path,
    report: ReadReport,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write the router file's records in ``[since, until)`` as SageMaker capture lines.

    Malformed lines and records outside the window (compared at whole seconds, like
    ``load_window``) are counted in ``report``; the lines written are left to the reader of
    ``out``. Returns the number of failed requests (status >= 400) in the window, left out.
    """
    from model_monitor.capture import CapturedPayload, CaptureRecord

    lines = path.read_bytes().split(b"\n")
    failed = 0
    low = None if since is None else since.replace(microsecond=0)
    high = None if until is None else until.replace(microsecond=0)
    with out.open("wb") as handle:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except ValueError:
                report.lines += 1
                report.corrupt(path, number, "not JSON", truncated=number == len(lines))
                continue
            if isinstance(doc, dict) and "captureData" in doc:
                handle.write(raw.rstrip(b"\r") + b"\n")
                continue
            problem = _router_problem(doc)
            if problem is not None:
                report.lines += 1
                report.corrupt(path, number, problem, truncated=number == len(lines))
                continue
            moment = _aware(datetime.fromisoformat(doc["at"]))
            second = moment.replace(microsecond=0)
            if (low is not None and second < low) or (high is not None and second >= high):
                report.lines += 1
                report.outside_window += 1
                continue
            if int(doc["status"]) >= 400:
                failed += 1
                continue
            record = CaptureRecord(
                event_id=str(uuid.uuid5(_NAMESPACE, f"{path.name}:{number}:{doc['at']}")),
                inference_time=moment,
                endpoint_input=CapturedPayload.from_body(
                    doc["request"].encode(),
                    content_type=_text(doc.get("request_type")) or _content_type(doc["request"]),
                    mode="INPUT",
                ),
                endpoint_output=CapturedPayload.from_body(
                    doc["response"].encode(),
                    content_type=_text(doc.get("response_type")) or _content_type(doc["response"]),
                    mode="OUTPUT",
                ),
                inference_id=_text(doc.get("inference_id")),
            )  # fmt: skip
            handle.write(record.encode())
    return failed


def _router_problem(doc: Any) -> str | None:
    """Why a router line is not a record (None when it is one)."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    for name in ("request", "response", "at"):
        if not isinstance(doc.get(name), str):
            return f"no {name} text"
    if not isinstance(doc.get("status"), int):
        return "no status code"
    try:
        datetime.fromisoformat(doc["at"])
    except ValueError:
        return f"'at' is not ISO 8601: {doc['at']!r}"
    return None


def _content_type(body: str) -> str:
    """JSON for a body that looks like JSON, else CSV (the router does not record headers)."""
    return "application/json" if body.lstrip()[:1] in ("{", "[") else "text/csv"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


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
