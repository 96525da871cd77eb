"""The model version a ``slipway build run`` registered, as step outputs for the next job.

Usage::

    slipway build run --run-dir "$RUNNER_TEMP/runs"
    python3 .github/scripts/build_version.py "$RUNNER_TEMP/runs"

The run folder (``<run-dir>/<run_id>/run.json``, written by the local runner) must hold exactly
one run. Writes ``version=<MODEL:VERSION>`` (empty when nothing was registered), ``run-id`` and
``status`` to ``$GITHUB_OUTPUT`` (stdout when unset). Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def read_run(run_dir: Path) -> dict[str, Any]:
    """The one ``run.json`` under ``run_dir``.

    Raises:
        SystemExit: There is no run, or more than one (a reused run folder).
    """
    runs = sorted(run_dir.glob("*/run.json"))
    if len(runs) != 1:
        found = ", ".join(str(path) for path in runs) or "none"
        raise SystemExit(f"error: expected one run.json under {run_dir}, found {found}")
    document: dict[str, Any] = json.loads(runs[0].read_text(encoding="utf-8"))
    return document


def outputs(document: dict[str, Any]) -> dict[str, str]:
    """Step outputs of one run document."""
    version = document.get("version") or {}
    return {
        "version": str(version.get("ref") or ""),
        "run-id": str(document.get("run_id") or ""),
        "status": str(document.get("status") or ""),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the registered version of the run under ``argv[0]`` as step outputs."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: build_version.py RUN_DIR", file=sys.stderr)
        return 2
    values = outputs(read_run(Path(args[0])))
    lines = [f"{key}={value}" for key, value in values.items()]
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
