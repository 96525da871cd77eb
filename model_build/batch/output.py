"""The chunk files of a batch job and the final output, written so a crash loses nothing done.

While a job runs, ``<output>.parts/`` holds ``plan.json`` (what the job is: input digest, model,
source, chunk size), the fetched bundle and one ``part-NNNNN.parquet`` per finished chunk, each
written to a temporary name and renamed into place (a chunk file exists whole or not at all).
A restarted job with the same plan skips the chunks whose files exist. The final file is the
parts in order, written the same way whether the job ran once or was restarted: Parquet with
the job's description in the schema metadata (key ``slipway.batch``), or CSV (by the output's
suffix) with ``<output>.metadata.json`` beside it. Then the parts folder is removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from foundation.files import replacing, write_text_atomic
from model_build.errors import BatchError

if TYPE_CHECKING:
    import pandas as pd

PLAN_FILE: Final = "plan.json"
METADATA_KEY: Final = b"slipway.batch"


def parts_dir(output: Path) -> Path:
    """The folder of a job's chunk files: ``<output>.parts``."""
    return output.with_name(output.name + ".parts")


def part_path(parts: Path, index: int) -> Path:
    """The file of chunk ``index``."""
    return parts / f"part-{index:05d}.parquet"


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def open_parts(parts: Path, *, plan: dict[str, Any], fresh: bool) -> set[int]:
    """Create or reuse the parts folder for ``plan``; return the chunks already finished.

    Raises:
        BatchError: The folder holds another job's chunks (different input, model or
            settings) and ``fresh`` is off.
    """
    plan_file = parts / PLAN_FILE
    if fresh and parts.exists():
        shutil.rmtree(parts)
    if plan_file.is_file():
        recorded = json.loads(plan_file.read_text(encoding="utf-8"))
        if recorded != plan:
            changed = sorted(k for k in set(recorded) | set(plan) if recorded.get(k) != plan.get(k))
            raise BatchError(
                f"{parts} holds the chunks of another job (it differs in {', '.join(changed)}); "
                "pass --fresh to start over, or remove the folder"
            )
    else:
        parts.mkdir(parents=True, exist_ok=True)
        write_text_atomic(plan_file, json.dumps(plan, indent=2, sort_keys=True) + "\n")
    done = set()
    for index in range(int(plan["chunks"])):
        if part_path(parts, index).is_file():
            done.add(index)
    return done


def write_part(frame: pd.DataFrame, *, path: Path) -> None:
    """Write one chunk's rows (input columns and answers) atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    with replacing(path) as tmp:
        pq.write_table(table, tmp, compression="snappy")


def write_output(*, parts: Path, chunks: int, output: Path, metadata: dict[str, Any]) -> int:
    """Join the chunk files in order into ``output`` (with ``metadata``); return its rows.

    Raises:
        BatchError: A chunk file is missing or the output cannot be written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    missing = [i for i in range(chunks) if not part_path(parts, i).is_file()]
    if missing:
        raise BatchError(f"{parts}: chunks {missing[:5]} are not finished")
    tables = [pq.read_table(part_path(parts, i)) for i in range(chunks)]
    table = pa.concat_tables(tables) if tables else pa.table({})
    text = json.dumps(metadata, sort_keys=True)
    try:
        with replacing(output) as tmp:
            if output.suffix.lower() == ".csv":
                table.to_pandas().to_csv(tmp, index=False)
                write_text_atomic(output.with_name(output.name + ".metadata.json"), text + "\n")
            else:
                schema = table.schema.with_metadata(
                    {**(table.schema.metadata or {}), METADATA_KEY: text}
                )
                pq.write_table(table.cast(schema), tmp, compression="snappy")
    except OSError as exc:
        raise BatchError(f"{output}: cannot write the output: {exc}") from exc
    return int(table.num_rows)


def read_metadata(path: Path) -> dict[str, Any]:
    """The job description a batch output carries (Parquet metadata or the CSV's sidecar).

    Raises:
        BatchError: The file carries none.
    """
    if path.suffix.lower() == ".csv":
        sidecar = path.with_name(path.name + ".metadata.json")
        if not sidecar.is_file():
            raise BatchError(f"{path}: no {sidecar.name} beside it")
        return dict(json.loads(sidecar.read_text(encoding="utf-8")))
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in meta:
        raise BatchError(f"{path}: not a Slipway batch output (no {METADATA_KEY.decode()})")
    return dict(json.loads(meta[METADATA_KEY]))
