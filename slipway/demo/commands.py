"""How the main job runs ``slipway`` commands: its folders and settings, in the foreground or not.

Every command is the real ``slipway`` a user or a workflow would run, as a subprocess whose
settings (environment variables) point at the demo's own folder; the demo's own process
environment is never changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from slipway.errors import DemoError

MANIFESTS = Path("model_deploy") / "environments"


@dataclass(frozen=True)
class LoopPaths:
    """Where the demo keeps each embedded component."""

    root: Path
    feature_repo: Path

    @property
    def git_repo(self) -> Path:
        """The local forge's repository (holds the manifests)."""
        return self.root / "gitops"

    @property
    def registry(self) -> Path:
        """The local model registry."""
        return self.root / "registry"

    @property
    def runs(self) -> Path:
        """Build run folders."""
        return self.root / "runs"

    @property
    def build_repo(self) -> Path:
        """The build repository made when the Slipway checkout is not a clean git work tree."""
        return self.root / "build"

    @property
    def deploy_state(self) -> Path:
        """Local deploy target state (pids, ports, history)."""
        return self.root / "deploy"

    @property
    def monitor(self) -> Path:
        """Monitoring runs' files and ground truth (``SLIPWAY_MONITOR_DIR``)."""
        return self.root / "monitor"

    def env(self) -> dict[str, str]:
        """Environment for every ``slipway`` subprocess of the loop."""
        return {
            **os.environ,
            "GX_ANALYTICS_ENABLED": "false",
            "SLIPWAY_FEATURE_REPO": str(self.feature_repo),
            "SLIPWAY_FEATURE_ENV": "local",
            "SLIPWAY_REGISTRY": "local",
            "SLIPWAY_REGISTRY_PATH": str(self.registry),
            "SLIPWAY_FORGE": "local",
            "SLIPWAY_REPO_DIR": str(self.git_repo),
            "SLIPWAY_BASE_BRANCH": "main",
            "SLIPWAY_DEPLOY_MANIFESTS_DIR": str(self.git_repo / MANIFESTS),
            "SLIPWAY_DEPLOY_STATE_DIR": str(self.deploy_state),
            "SLIPWAY_MONITOR_DIR": str(self.monitor),
            "COLUMNS": "120",
        }


def slipway(paths: LoopPaths, *args: str, timeout: float = 600, cwd: Path | None = None) -> str:
    """Run one ``slipway`` command of the loop (in the gitops repo) and return its stdout.

    Raises:
        DemoError: The command failed; the message carries its last error line.
    """
    return finish(start(paths, *args, cwd=cwd), timeout=timeout)


@dataclass
class Started:
    """A ``slipway`` command running in the background (see :func:`start`, :func:`finish`)."""

    args: tuple[str, ...]
    process: subprocess.Popen[str]


def start(paths: LoopPaths, *args: str, cwd: Path | None = None) -> Started:
    """Start one ``slipway`` command of the loop without waiting for it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "slipway", *args],
        cwd=cwd or paths.git_repo,
        env=paths.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Started(args=args, process=process)


def finish(started: Started, *, timeout: float = 600) -> str:
    """Wait for a started command and return its stdout.

    Raises:
        DemoError: The command failed or ran over ``timeout`` seconds (it is then killed); the
            message carries its last error line.
    """
    return finish_code(started, timeout=timeout)[1]


def finish_code(
    started: Started, *, timeout: float = 600, ok: tuple[int, ...] = (0,)
) -> tuple[int, str]:
    """Wait for a started command; its exit code (one of ``ok``) and stdout.

    For commands whose exit code is an answer (``slipway monitor run``: 1 = violations).

    Raises:
        DemoError: The command exited with a code not in ``ok`` or ran over ``timeout``
            seconds (it is then killed); the message carries its last error line.
    """
    name = f"`slipway {' '.join(started.args)}`"
    try:
        stdout, stderr = started.process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        started.process.kill()
        started.process.communicate()
        raise DemoError(f"{name} ran over {timeout:.0f} s") from exc
    code = started.process.returncode
    if code not in ok:
        lines = [line for line in (stderr or stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {code}"
        raise DemoError(f"{name} failed: {last}")
    return code, stdout


def stop(started: Started) -> None:
    """Kill a started command if it still runs (after a failure elsewhere) and reap it."""
    if started.process.poll() is not None:
        return
    started.process.kill()
    started.process.communicate()


def finish_all(started: list[Started], *, timeout: float = 600) -> list[str]:
    """Wait for every started command (all of them, even when one fails); their stdouts.

    Raises:
        DemoError: The first command that failed.
    """
    outputs: list[str] = []
    failure: DemoError | None = None
    for each in started:
        try:
            outputs.append(finish(each, timeout=timeout))
        except DemoError as exc:
            failure = failure or exc
            outputs.append("")
    if failure is not None:
        raise failure
    return outputs
