"""Files written so that a crash leaves either the old content or the new, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temp path beside ``path`` for a writer that wants a file name (pyarrow, pandas).

    When the block ends normally the temp file replaces ``path`` in one rename; when it raises
    the temp file is removed and ``path`` is left as it was. The parent folder is created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file in the same folder, fsync, rename).

    The parent folder is created when missing. On any failure the temp file is removed and the
    old content (if any) is left untouched; ``OSError`` propagates to the caller.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_bytes_atomic` for UTF-8 text (written exactly as given)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, document: Any, *, indent: int | None = 2) -> None:
    """Write ``document`` as JSON (sorted keys, trailing newline) atomically."""
    text = json.dumps(document, indent=indent, sort_keys=True, default=str)
    write_text_atomic(path, text + "\n")
