"""Which model folders a pull request or push changed: the build workflow's matrix.

Usage (from the repository root, in a checkout with history)::

    python3 .github/scripts/changed_models.py --base BASE_SHA --head HEAD_SHA
    python3 .github/scripts/changed_models.py --only trip_fare

A model is a folder ``model_build/models/<name>/`` holding ``model.yaml``. The diff
``BASE...HEAD`` (what the pull request adds on top of its merge base, or what a push added)
selects:

* every model whose folder it touches (its ``model.yaml`` or its own code beside it);
* every model when it touches what all builds share: the build code (``model_build/`` outside
  ``model_build/models/``) or the feature repository (``feature_repo/``: features, sources,
  expectation suites);
* nothing for a deleted model folder or a loose file directly under ``model_build/models/``.

An unknown or all-zero BASE (a new branch, a shallow clone, a workflow_dispatch) selects every
model; ``--only NAME`` selects that one (an error when it is not a model folder). Writes
``models=<JSON list of names>``, ``model-args=--model A --model B`` (names match
``[A-Za-z0-9][A-Za-z0-9_-]*``, so the words split safely) and ``any=true|false`` to
``$GITHUB_OUTPUT`` (and stdout); models are sorted by name and exist at HEAD. Standard
library only: it runs before ``make install``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

MODELS_DIR = PurePosixPath("model_build/models")
BUILD_DIR = PurePosixPath("model_build")
#: Paths every model's build depends on besides the build code.
SHARED_PATHS = (PurePosixPath("feature_repo"),)
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def models_at_head(root: Path) -> list[str]:
    """Names of the model folders (``<name>/model.yaml``) in the work tree, sorted."""
    folder = root / MODELS_DIR
    return sorted(
        path.parent.name
        for path in folder.glob("*/model.yaml")
        if path.is_file() and _MODEL_NAME.match(path.parent.name)
    )


def changed_paths(root: Path, base: str, head: str) -> list[str] | None:
    """Build and feature repository paths changed by ``base...head``.

    None when ``base`` is empty, all zeros or not in this clone.
    """
    if not base or set(base) == {"0"}:
        return None
    known = subprocess.run(
        ["git", "cat-file", "-e", f"{base}^{{commit}}"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if known.returncode != 0:
        return None
    command = ["git", "diff", "--name-only", "--no-renames", f"{base}...{head}"]
    diff = subprocess.run(
        [*command, "--", str(BUILD_DIR), *(str(path) for path in SHARED_PATHS)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in diff.stdout.splitlines() if line]


def affected(paths: list[str], models: list[str]) -> list[str]:
    """The models among ``models`` that a change of ``paths`` must rebuild, sorted."""
    chosen: set[str] = set()
    for path in paths:
        parts = PurePosixPath(path)
        if parts.is_relative_to(MODELS_DIR):
            inside = parts.relative_to(MODELS_DIR).parts
            if len(inside) > 1 and inside[0] in models:
                chosen.add(inside[0])
            continue
        if parts.is_relative_to(BUILD_DIR) or any(parts.is_relative_to(p) for p in SHARED_PATHS):
            return list(models)
    return sorted(chosen)


def select(root: Path, *, base: str, head: str, only: str | None) -> list[str]:
    """The models to build.

    Args:
        base: Base revision (pull request base or the commit before a push).
        head: Head revision (pull request head or the pushed commit).
        only: One model chosen by hand (workflow_dispatch); overrides the diff.

    Returns:
        Model names, sorted; empty when no model (nor what they share) changed.

    Raises:
        SystemExit: ``only`` is not a model folder.
    """
    models = models_at_head(root)
    if only:
        if only not in models:
            known = ", ".join(models) or "none"
            raise SystemExit(f"error: no model folder {MODELS_DIR}/{only}/model.yaml ({known})")
        return [only]
    paths = changed_paths(root, base, head or "HEAD")
    return models if paths is None else affected(paths, models)


def main(argv: list[str] | None = None) -> int:
    """Compute the models and write them as step outputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="", help="Base revision (empty: every model).")
    parser.add_argument("--head", default="HEAD", help="Head revision.")
    parser.add_argument("--only", default="", help="Select just this model.")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="Repository root.")
    args = parser.parse_args(argv)
    models = select(args.root, base=args.base, head=args.head, only=args.only or None)
    lines = [
        f"models={json.dumps(models)}",
        f"model-args={' '.join(f'--model {name}' for name in models)}",
        f"any={'true' if models else 'false'}",
    ]
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"models: {', '.join(models) or '(none changed)'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
