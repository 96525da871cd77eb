"""Which environment manifests a pull request or push changed: the deploy workflow's matrix.

Usage (from the repository root, in a checkout with history)::

    python3 .github/scripts/changed_envs.py --base BASE_SHA --head HEAD_SHA
    python3 .github/scripts/changed_envs.py --only prod

Writes ``envs=<JSON list>``, ``env-args=--env A --env B`` (names match ``[a-z][a-z0-9_-]*``,
so the words split safely), ``any=true|false`` and ``policy=true|false`` (the change touches
the rules plans are judged by: ``model_deploy/policies/`` or CODEOWNERS, so it must be
planned, as a policy change, even without a manifest) to ``$GITHUB_OUTPUT`` (and stdout).
Environments are the ``<env>.yaml`` files of ``model_deploy/environments/`` that exist at
HEAD, in promotion order (dev, staging, prod, then the rest by name). The diff is
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
#: The rules plans are judged by (``ci.governance.POLICY_PATHS``).
POLICY_PATHS = ("model_deploy/policies/", ".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
PROMOTION_ORDER = ("dev", "staging", "prod")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def environments_at_head(root: Path) -> list[str]:
    """Environment names whose manifest exists in the working tree, in promotion order."""
    folder = root / MANIFESTS_DIR
    names = [p.stem for p in folder.glob("*.yaml") if _ENV_NAME.match(p.stem)]
    return order(names)


def order(names: list[str]) -> list[str]:
    """Promotion order: dev, staging, prod first, then any other environment by name."""
    rank = {name: index for index, name in enumerate(PROMOTION_ORDER)}
    return sorted(set(names), key=lambda name: (rank.get(name, len(rank)), name))


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
    """The environments to plan or apply.

    Args:
        base: Base revision (pull request base or the commit before a push).
        head: Head revision (pull request head or the pushed commit).
        only: One environment chosen by hand (workflow_dispatch); overrides the diff.

    Returns:
        Environment names in promotion order; empty when no manifest changed.

    Raises:
        SystemExit: ``only`` names an environment without a manifest.
    """
    existing = environments_at_head(root)
    if only:
        if only not in existing:
            raise SystemExit(f"error: no manifest {MANIFESTS_DIR}/{only}.yaml")
        return [only]
    paths = changed_paths(root, base, head or "HEAD")
    if paths is None:
        return existing
    touched = {
        PurePosixPath(path).stem
        for path in paths
        if PurePosixPath(path).parent == MANIFESTS_DIR and path.endswith(".yaml")
    }
    return [name for name in existing if name in touched]


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
    envs = select(args.root, base=args.base, head=args.head, only=args.only or None)
    policy = not args.only and policy_changed(args.root, base=args.base, head=args.head)
    lines = [
        f"envs={json.dumps(envs)}",
        f"env-args={' '.join(f'--env {name}' for name in envs)}",
        f"any={'true' if envs else 'false'}",
        f"policy={'true' if policy else 'false'}",
    ]
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"environments: {', '.join(envs) or '(none changed)'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
