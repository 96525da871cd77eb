"""Which deployment manifests a pull request or push changed: the deploy workflow's matrix.

Usage (from the repository root, in a checkout with history)::

    python3 .github/scripts/changed_envs.py --base BASE_SHA --head HEAD_SHA
    python3 .github/scripts/changed_envs.py --only prod

A deployment is one model in one environment: the manifest
``model_deploy/environments/<env>/<model>.yaml``, key ``<env>/<model>``. Writes
``envs=<JSON list of keys>``, ``deployments=<JSON list of {key, env, model}>`` (the apply
matrix: ``env`` is the GitHub environment), ``env-args=--env K1 --env K2`` (keys match
``[a-z][a-z0-9_-]*/[A-Za-z0-9_-]+``, so the words split safely), ``any=true|false`` and
``policy=true|false`` (the change touches the rules plans are judged by:
``model_deploy/environments.yaml``, ``model_deploy/policies/`` or CODEOWNERS, so it must be
planned, as a policy change, even without a manifest) to ``$GITHUB_OUTPUT`` (and stdout).
Deployments are the manifests that exist at HEAD, in the promotion order of
``model_deploy/environments.yaml``, then by name. The diff is
``BASE...HEAD`` (what the pull request adds on top of its merge base, or what a push added);
an unknown or all-zero BASE (a new branch, a shallow clone) selects every environment.
Standard library only: it runs before ``make install``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

MANIFESTS_DIR = PurePosixPath("model_deploy/environments")
ENVIRONMENTS_FILE = "model_deploy/environments.yaml"
#: The rules plans are judged by (``ci.governance.POLICY_PATHS``).
POLICY_PATHS = (
    "model_deploy/policies/",
    ENVIRONMENTS_FILE,
    ".github/CODEOWNERS",
    "CODEOWNERS",
    "docs/CODEOWNERS",
)
_ENV_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_TOP_KEY = re.compile(r"^  ([a-z][a-z0-9_-]*):")


def promotion_order(root: Path) -> list[str]:
    """Environment names in the order ``environments.yaml`` declares them (its top keys).

    Read without a YAML library (this runs before ``make install``): the environments are
    the two-space-indented keys under ``environments:``.
    """
    path = root / ENVIRONMENTS_FILE
    if not path.is_file():
        return []
    names, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("environments:"):
            inside = True
            continue
        if inside and line and not line.startswith((" ", "#")):
            break
        match = _TOP_KEY.match(line) if inside else None
        if match:
            names.append(match.group(1))
    return names


def deployments_at_head(root: Path) -> list[str]:
    """Deployment keys ``<env>/<model>`` whose manifest exists in the work tree, in order."""
    folder = root / MANIFESTS_DIR
    keys = [
        f"{p.parent.name}/{p.stem}"
        for p in folder.glob("*/*.yaml")
        if _ENV_NAME.match(p.parent.name) and _MODEL_NAME.match(p.stem)
    ]
    return order(keys, promotion_order(root))


def order(keys: list[str], environments: list[str] | None = None) -> list[str]:
    """Promotion order of the environments (dev, staging, prod...), then by name."""
    rank = {name: index for index, name in enumerate(environments or ("dev", "staging", "prod"))}
    return sorted(set(keys), key=lambda key: (rank.get(key.split("/")[0], len(rank)), key))


def changed_paths(root: Path, base: str, head: str) -> list[str] | None:
    """Manifest and policy paths changed by ``base...head``.

    None when ``base`` is not in this clone.
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
        [*command, "--", str(MANIFESTS_DIR), *(path.rstrip("/") for path in POLICY_PATHS)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in diff.stdout.splitlines() if line]


def select(root: Path, *, base: str, head: str, only: str | None) -> list[str]:
    """The deployments to plan or apply.

    Args:
        base: Base revision (pull request base or the commit before a push).
        head: Head revision (pull request head or the pushed commit).
        only: One environment (every model of it) or one deployment ``<env>/<model>`` chosen
            by hand (workflow_dispatch); overrides the diff.

    Returns:
        Deployment keys in promotion order; empty when no manifest changed.

    Raises:
        SystemExit: ``only`` names nothing with a manifest.
    """
    existing = deployments_at_head(root)
    if only:
        chosen = [key for key in existing if key == only or key.split("/")[0] == only]
        if not chosen:
            raise SystemExit(f"error: no manifest {MANIFESTS_DIR}/{only}[/MODEL].yaml")
        return chosen
    paths = changed_paths(root, base, head or "HEAD")
    if paths is None:
        return existing
    touched = set()
    for path in paths:
        parts = PurePosixPath(path)
        if parts.parent.parent == MANIFESTS_DIR and path.endswith(".yaml"):
            touched.add(f"{parts.parent.name}/{parts.stem}")
    return [key for key in existing if key in touched]


def policy_changed(root: Path, *, base: str, head: str) -> bool:
    """Whether ``base...head`` changes the rules (False when ``base`` is unknown: a push)."""
    paths = changed_paths(root, base, head or "HEAD") or []
    return any(path == rule or path.startswith(rule) for path in paths for rule in POLICY_PATHS)


def main(argv: list[str] | None = None) -> int:
    """Compute the environments and write them as step outputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="", help="Base revision (empty: every environment).")
    parser.add_argument("--head", default="HEAD", help="Head revision.")
    parser.add_argument("--only", default="", help="Select just this environment.")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="Repository root.")
    args = parser.parse_args(argv)
    keys = select(args.root, base=args.base, head=args.head, only=args.only or None)
    policy = not args.only and policy_changed(args.root, base=args.base, head=args.head)
    matrix = [{"key": key, "env": key.split("/")[0], "model": key.split("/")[1]} for key in keys]
    lines = [
        f"envs={json.dumps(keys)}",
        f"deployments={json.dumps(matrix)}",
        f"env-args={' '.join(f'--env {key}' for key in keys)}",
        f"any={'true' if keys else 'false'}",
        f"policy={'true' if policy else 'false'}",
    ]
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"deployments: {', '.join(keys) or '(none changed)'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
