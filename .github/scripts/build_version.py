"""The model version a ``slipway build run`` registered, as step outputs for the next job.

Usage::

    slipway build run --model M --run-dir "$RUNNER_TEMP/runs" --format json > build.json
    python3 .github/scripts/build_version.py build.json --expect-git "$GITHUB_SHA"
    python3 .github/scripts/build_version.py "$RUNNER_TEMP/runs" --expect-git "$GITHUB_SHA"

The argument is either the JSON report ``slipway build run --format json`` printed
(``{"builds": [...], "failed": [...]}``), which must list exactly one build (the build
workflow builds one model per matrix job), or a run folder (``<run-dir>/<run_id>/run.json``,
written by the local runner) holding exactly one run. The git SHA is read from the build's
``run.json``. Writes ``model``, ``version=<MODEL:VERSION>`` (empty when nothing was
registered), ``run-id``, ``status`` and ``git-sha`` (the commit the registry records as the
model's source) to ``$GITHUB_OUTPUT`` (stdout when unset). With ``--expect-git``, a
registered version whose git SHA is not that commit (the build repository's checkout) fails:
the model's lineage must name the commit it was built from, never ``unknown`` or another
repository's. Standard library only.
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


def read_report(path: Path) -> dict[str, Any]:
    """The run document of the one build a ``build run --format json`` report lists.

    A build that failed before its run folder existed gives its status and no version.

    Raises:
        SystemExit: The file is not such a report, or it lists no build or several.
    """
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        builds = report["builds"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problem = f"error: {path} is not a `slipway build run --format json` report: {exc}"
        raise SystemExit(problem) from exc
    if not isinstance(builds, list) or len(builds) != 1:
        found = ", ".join(str(b.get("model")) for b in builds) if isinstance(builds, list) else ""
        raise SystemExit(f"error: expected one build in {path}, found {found or 'none'}")
    build = builds[0]
    run_json = Path(str(build.get("run_dir") or "")) / "run.json"
    if build.get("run_dir") and run_json.is_file():
        document: dict[str, Any] = json.loads(run_json.read_text(encoding="utf-8"))
    else:
        document = {"model_name": build.get("model"), "status": build.get("status")}
    if (document.get("version") or {}).get("ref") != build.get("version"):
        raise SystemExit(
            f"error: {path} reports version {build.get('version')}, but {run_json} records "
            f"{(document.get('version') or {}).get('ref')}"
        )
    return document


def outputs(document: dict[str, Any]) -> dict[str, str]:
    """Step outputs of one run document."""
    version = document.get("version") or {}
    return {
        "model": str(
            document.get("model_name")
            or version.get("model_name")
            or str(version.get("ref") or "").partition(":")[0]
        ),
        "version": str(version.get("ref") or ""),
        "run-id": str(document.get("run_id") or ""),
        "status": str(document.get("status") or ""),
        "git-sha": str(document.get("git_sha") or ""),
    }


def check_lineage(values: dict[str, str], expected: str) -> str | None:
    """Why the registered version's git SHA is not ``expected``.

    None when it is, or when nothing was registered.
    """
    if not values["version"] or values["git-sha"] == expected:
        return None
    found = values["git-sha"] or "nothing"
    return (
        f"error: {values['version']} records git SHA {found}, not the build commit {expected}: "
        "build from a clean checkout of the build repository"
    )


def main(argv: list[str] | None = None) -> int:
    """Write the registered version of the run under ``argv[0]`` as step outputs."""
    args = list(sys.argv[1:] if argv is None else argv)
    expected = None
    if len(args) == 3 and args[1] == "--expect-git":
        expected = args.pop()
        args.pop()
    if len(args) != 1:
        print("usage: build_version.py REPORT.json|RUN_DIR [--expect-git SHA]", file=sys.stderr)
        return 2
    source = Path(args[0])
    values = outputs(read_report(source) if source.is_file() else read_run(source))
    problem = check_lineage(values, expected) if expected else None
    if problem:
        print(problem, file=sys.stderr)
        return 1
    lines = [f"{key}={value}" for key, value in values.items()]
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
