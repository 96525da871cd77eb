"""Find and read captured records over a time window, counting every line that does not parse.

:func:`capture_files` lists the ``.jsonl`` files of one endpoint variant whose hour folder can
hold records in ``[since, until)``; :func:`iter_records` yields the records of those files that
fall in the window. Nothing is skipped silently: a :class:`ReadReport` counts the lines read,
the records outside the window, corrupt lines (not JSON, or not a record) and a truncated last
line (a file whose final line has no newline and does not parse, as left by a writer that was
still appending or was killed), and turns them into warning sentences.

For analysis, :func:`model_monitor.frame.load_window` reads the same files straight into a
columnar frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from model_monitor.capture import FILE_SUFFIX, CaptureRecord, format_time, variant_folder
from model_monitor.errors import CaptureError


@dataclass
class ReadReport:
    """What reading a window met; filled in while reading.

    Attributes:
        files: Files opened.
        lines: Non-empty lines read.
        records: Records inside the window (yielded or loaded).
        outside_window: Valid records before ``since`` or at/after ``until``.
        corrupt_lines: Lines that are not JSON or not a valid record (last lines excluded).
        truncated_lines: Files whose last line has no newline and does not parse.
        examples: Up to five ``file:line: reason`` strings for the corrupt lines.
    """

    files: int = 0
    lines: int = 0
    records: int = 0
    outside_window: int = 0
    corrupt_lines: int = 0
    truncated_lines: int = 0
    examples: list[str] = field(default_factory=list)

    def corrupt(self, path: Path, line: int, reason: str, *, truncated: bool) -> None:
        """Count one bad line (and keep the first few as examples)."""
        if truncated:
            self.truncated_lines += 1
        else:
            self.corrupt_lines += 1
        if len(self.examples) < 5:
            kind = "truncated last line" if truncated else reason
            self.examples.append(f"{path}:{line}: {kind}")

    def merge(self, other: ReadReport) -> None:
        """Add another report's counts to this one (reports of files read in parallel)."""
        self.files += other.files
        self.lines += other.lines
        self.records += other.records
        self.outside_window += other.outside_window
        self.corrupt_lines += other.corrupt_lines
        self.truncated_lines += other.truncated_lines
        self.examples.extend(other.examples[: max(0, 5 - len(self.examples))])

    def warnings(self) -> list[str]:
        """One sentence per problem met (empty when every line was a valid record)."""
        found: list[str] = []
        if self.corrupt_lines:
            found.append(
                f"{self.corrupt_lines} corrupt capture line(s) skipped"
                f" (e.g. {'; '.join(self.examples[:3])})"
            )
        if self.truncated_lines:
            found.append(
                f"{self.truncated_lines} capture file(s) end in a truncated line (skipped)"
            )
        return found

    def to_json(self) -> dict[str, object]:
        """The counts and warnings as a JSON object."""
        return {
            "files": self.files,
            "lines": self.lines,
            "records": self.records,
            "outside_window": self.outside_window,
            "corrupt_lines": self.corrupt_lines,
            "truncated_lines": self.truncated_lines,
            "warnings": self.warnings(),
        }


def capture_files(
    *,
    destination: Path,
    endpoint: str,
    variant: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Path]:
    """The capture files of one variant whose UTC hour overlaps ``[since, until)``, in time order.

    A missing variant folder means no files (an endpoint that captured nothing yet).

    Raises:
        CaptureError: A name is not a plain name, or ``since`` is not before ``until``.
    """
    root = variant_folder(destination, endpoint=endpoint, variant=variant)
    _check_window(since, until)
    if not root.is_dir():
        return []
    first = _hour_key(since) if since is not None else None
    last = _hour_key(until - timedelta(microseconds=1)) if until is not None else None
    found: list[Path] = []
    for hour in sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/[0-9][0-9]")):
        key = "/".join(hour.parts[-4:])
        if (first is not None and key < first) or (last is not None and key > last):
            continue
        found.extend(sorted(p for p in hour.iterdir() if p.suffix == FILE_SUFFIX))
    return found


def iter_records(
    *,
    files: Sequence[Path],
    since: datetime | None = None,
    until: datetime | None = None,
    report: ReadReport | None = None,
) -> Iterator[CaptureRecord]:
    """Yield the valid records of ``files`` whose ``inferenceTime`` is in ``[since, until)``.

    Bad lines are counted in ``report`` (pass one to see them), never raised.

    Raises:
        CaptureError: ``since`` is not before ``until``.
        OSError: A file cannot be read.
    """
    _check_window(since, until)
    counts = report if report is not None else ReadReport()
    for path in files:
        counts.files += 1
        data = path.read_bytes()
        lines = data.split(b"\n")
        last = len(lines) - 1
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            counts.lines += 1
            try:
                record = CaptureRecord.from_json(orjson.loads(line))
            except (orjson.JSONDecodeError, CaptureError) as exc:
                reason = "not JSON" if isinstance(exc, orjson.JSONDecodeError) else str(exc)
                counts.corrupt(path, number + 1, reason, truncated=number == last)
                continue
            if (since is not None and record.inference_time < since) or (
                until is not None and record.inference_time >= until
            ):
                counts.outside_window += 1
                continue
            counts.records += 1
            yield record


def window_bounds(since: datetime | None, until: datetime | None) -> tuple[str | None, str | None]:
    """``since`` and ``until`` as ``inferenceTime`` strings (for fast comparisons)."""
    _check_window(since, until)
    return (
        None if since is None else format_time(since),
        None if until is None else format_time(until),
    )


def _check_window(since: datetime | None, until: datetime | None) -> None:
    """Refuse naive times and an empty or inverted window."""
    for label, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise CaptureError(f"{label} must be an aware time (e.g. UTC), got {moment}")
    if since is not None and until is not None and since >= until:
        raise CaptureError(f"since ({since}) must be before until ({until})")


def _hour_key(moment: datetime) -> str:
    """``yyyy/mm/dd/hh`` of ``moment``'s UTC hour (sorts like the folders)."""
    return f"{moment.astimezone(UTC):%Y/%m/%d/%H}"
