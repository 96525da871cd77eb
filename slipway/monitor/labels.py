"""Ground truth for model quality: ingest label files, find a deployment's labels.

Layout (SageMaker's ground-truth layout): ``<root>/<endpoint>/yyyy/mm/dd/hh/<digest>.jsonl``,
the hour being when the labels were ingested, one SageMaker ground-truth record a line::

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<the request's inferenceId, or its eventId>"},
     "eventVersion": "0"}

Accepted input (:func:`parse_label_file`): JSON Lines of those records, or of objects with an
id (``inference_id``, ``inferenceId``, ``event_id``, ``eventId`` or ``id``) and a ``label``
(one value, or a list for a multi-row request); or CSV with a header naming one of those id
columns and ``label``. Ingestion is idempotent: a label whose id already has the same label
is skipped, so re-ingesting a file adds nothing; a different label for an id already labelled
is skipped too and counted (the first label stays). Malformed lines fail the whole file, named
by line number, before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.monitor.errors import LabelFileError

if TYPE_CHECKING:
    from model_monitor.quality import GroundTruthRecord
    from model_monitor.reader import ReadReport

ID_FIELDS = ("inference_id", "inferenceId", "event_id", "eventId", "id")
_SHOWN = 5


@dataclass(frozen=True)
class IngestResult:
    """What one ingestion did.

    Attributes:
        file: The file read.
        endpoint: The deployment's ground-truth folder name.
        records: Labelled ids in the file.
        written: New labels written.
        duplicates: Labels already present, identical (skipped).
        conflicts: Ids already labelled differently (skipped; the first label stays).
        path: The file written (None when nothing was new).
        uploaded: Its ``s3://`` URI, when ground truth is kept in S3.
    """

    file: Path
    endpoint: str
    records: int
    written: int
    duplicates: int
    conflicts: int
    path: Path | None
    uploaded: str | None = None

    @property
    def warnings(self) -> list[str]:
        """Sentences about what was skipped."""
        if not self.conflicts:
            return []
        return [
            f"{self.conflicts} ids already had a different label (kept the first; ingest "
            "corrections under a new id)"
        ]

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return {
            "file": str(self.file),
            "endpoint": self.endpoint,
            "records": self.records,
            "written": self.written,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "path": None if self.path is None else str(self.path),
            "uploaded": self.uploaded,
            "warnings": self.warnings,
        }


def parse_label_file(path: Path) -> list[GroundTruthRecord]:
    """The ground-truth records of a ``.jsonl`` or ``.csv`` file (by its suffix).

    Raises:
        LabelFileError: The file cannot be read, is empty, or has malformed lines (up to five
            named with their line numbers, and how many in all).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelFileError(f"{path}: cannot read the labels: {exc}") from exc
    problems: list[str] = []
    if path.suffix.lower() == ".csv":
        records = _csv_records(text, problems)
    else:
        records = _jsonl_records(text, problems)
    if problems:
        shown = "; ".join(problems[:_SHOWN])
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise LabelFileError(
            f"{path}: {len(problems)} malformed line(s), nothing ingested: {shown}{more}"
        )
    if not records:
        raise LabelFileError(f"{path}: no labels in the file")
    return records


def _jsonl_records(text: str, problems: list[str]) -> list[GroundTruthRecord]:
    from model_monitor.errors import CaptureError
    from model_monitor.quality import GroundTruthRecord

    found: list[GroundTruthRecord] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            problems.append(f"line {number}: not JSON")
            continue
        if isinstance(doc, dict) and "groundTruthData" in doc:
            try:
                record = GroundTruthRecord.from_json(doc)
                record.labels()
            except CaptureError as exc:
                problems.append(f"line {number}: {exc}")
                continue
            found.append(record)
            continue
        simple = _simple(doc)
        if isinstance(simple, str):
            problems.append(f"line {number}: {simple}")
            continue
        found.append(simple)
    return found


def _simple(doc: Any) -> GroundTruthRecord | str:
    """A record of ``{"<id field>": ..., "label": ...}``, or why the object is not one."""
    from model_monitor.quality import GroundTruthRecord

    if not isinstance(doc, dict):
        return "not a JSON object"
    ids = [doc[name] for name in ID_FIELDS if doc.get(name) not in (None, "")]
    if not ids:
        return f"no id ({', '.join(ID_FIELDS)})"
    label = doc.get("label")
    if label is None or isinstance(label, dict) or label == []:
        return "no label"
    values = label if isinstance(label, list) else [label]
    if not all(isinstance(v, int | float | str) for v in values):
        return "a label must be a number or text"
    return GroundTruthRecord.of(str(ids[0]), label)


def _csv_records(text: str, problems: list[str]) -> list[GroundTruthRecord]:
    from model_monitor.quality import GroundTruthRecord

    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [cell.strip() for cell in rows[0]]
    id_column = next((header.index(n) for n in ID_FIELDS if n in header), None)
    if id_column is None or "label" not in header:
        problems.append(f"line 1: the header needs an id column ({', '.join(ID_FIELDS)}) and label")
        return []
    label_column = header.index("label")
    found: list[GroundTruthRecord] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {number}: {len(row)} fields, the header has {len(header)}")
            continue
        key, label = row[id_column].strip(), row[label_column].strip()
        if not key or not label:
            problems.append(f"line {number}: empty {'id' if not key else 'label'}")
            continue
        found.append(GroundTruthRecord.of(key, label))
    return found


def ingest_labels(
    *, file: Path, root: Path, endpoint: str, now: datetime
) -> IngestResult:  # fmt: skip
    """Add a label file's records to ``<root>/<endpoint>/`` (the hour of ``now``).

    Raises:
        LabelFileError: The file is unreadable or malformed (nothing is written).
        OSError: The ground-truth folder cannot be written.
    """
    from foundation.files import write_bytes_atomic
    from model_monitor.capture import hour_folder

    records = parse_label_file(file)
    known = {r.event_id: r.data for r in read_labels(root=root, endpoint=endpoint)}
    new: dict[str, GroundTruthRecord] = {}
    duplicates = conflicts = 0
    for record in records:
        before = known.get(record.event_id)
        if before is None:
            before = new[record.event_id].data if record.event_id in new else None
        if before is None:
            new[record.event_id] = record
        elif before == record.data:
            duplicates += 1
        else:
            conflicts += 1
    path: Path | None = None
    if new:
        body = b"".join(r.encode() for r in new.values())
        digest = hashlib.sha256(body).hexdigest()[:16]
        path = hour_folder(root / endpoint, now) / f"labels-{digest}.jsonl"
        write_bytes_atomic(path, body)
    return IngestResult(file, endpoint, len(records), len(new), duplicates, conflicts, path)


def label_files(*, root: Path, endpoint: str, since: datetime | None = None) -> list[Path]:
    """The ground-truth files of ``endpoint`` from ``since``'s hour on, in time order."""
    folder = root / endpoint
    if not folder.is_dir():
        return []
    first = None if since is None else f"{since.astimezone(UTC):%Y/%m/%d/%H}"
    found: list[Path] = []
    for hour in sorted(folder.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/[0-9][0-9]")):
        if first is not None and "/".join(hour.parts[-4:]) < first:
            continue
        found += sorted(p for p in hour.iterdir() if p.suffix == ".jsonl")
    return found


def read_labels(
    *,
    root: Path,
    endpoint: str,
    since: datetime | None = None,
    report: ReadReport | None = None,
) -> list[GroundTruthRecord]:
    """The endpoint's ground truth (files from ``since``'s hour on), one record per id.

    A later record for an id already read is left out (ingestion never writes one; a file
    copied in by hand might).
    """
    from model_monitor.quality import read_ground_truth

    files: Sequence[Path] = label_files(root=root, endpoint=endpoint, since=since)
    seen: dict[str, GroundTruthRecord] = {}
    for record in read_ground_truth(files=files, report=report):
        seen.setdefault(record.event_id, record)
    return list(seen.values())
