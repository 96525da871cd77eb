"""The main job: the whole Slipway loop on the embedded default, with no cloud at all."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from feature_store.errors import RepoConfigError
from feature_store.repo import FeatureRepo
from feature_store.settings import FeatureStoreSettings
from foundation.settings import load_settings
from slipway.demo.progress import DemoRun, console
from slipway.views.gate import print_gate_summary

DEMO_DRIVERS = [1001, 1002, 1003, 1004, 1005]


def prepare_repo(*, source: Path, workdir: Path) -> FeatureRepo:
    """Copy the feature repo definitions (not its data) into the demo's own folder.

    Args:
        source: The checked-in feature repo.
        workdir: The demo folder; ``<workdir>/feature_repo`` is replaced.

    Returns:
        The copied repo on the embedded default (SQLite) configuration.

    Raises:
        RepoConfigError: The source repo does not exist.
    """
    if not (source / "feature_store.yaml").is_file():
        raise RepoConfigError(
            f"{source / 'feature_store.yaml'}: file not found; run the demo from the Slipway "
            "checkout or set SLIPWAY_FEATURE_REPO"
        )
    target = workdir / "feature_repo"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("data", "__pycache__"))
    return FeatureRepo(path=target.resolve(), env="local")


def run_demo(*, workdir: str | Path, keep_running: bool = False) -> DemoRun:
    """Run the demo loop and print a summary.

    Args:
        workdir: Folder holding the demo's state; recreated parts are replaced, so re-running
            converges to the same result.
        keep_running: Leave the dev/staging/prod endpoints running after the demo.

    Returns:
        The run, with timings and outputs.
    """
    from feature_store.demo_data import DemoSizes, write_demo_data
    from feature_store.gate import ensure_valid, validate_sources, write_reports
    from feature_store.materialization import materialize
    from feature_store.online import read_online
    from feature_store.registry_sync import apply

    root = Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    source = load_settings(FeatureStoreSettings).feature_repo.resolve()
    run = DemoRun(workdir=root, repo=prepare_repo(source=source, workdir=root))
    repo = run.repo
    from slipway.demo.commands import LoopPaths, stop
    from slipway.demo.loop import init_tracking

    # The tracking store is created in the background while the data steps run.
    tracking = init_tracking(LoopPaths(root=root, feature_repo=repo.path))
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    reports_dir = root / "reports" / "validation"

    try:
        console.rule("[bold]Slipway demo[/bold] (embedded default: SQLite, local files)")
        run.step(
            "Generate demo data",
            lambda: write_demo_data(out_dir=repo.data_dir, sizes=DemoSizes(), seed=42, end=end),
        )
        reports = run.step(
            "Validate sources (Great Expectations)",
            lambda: validate_sources(repo_path=repo.path, now=end),
        )
        run.step(
            "Write validation reports", lambda: write_reports(reports=reports, out_dir=reports_dir)
        )
        print_gate_summary(reports, console)
        ensure_valid(reports)
        run.step("Apply feature definitions", lambda: apply(repo=repo))
        run.step("Materialize (gated)", lambda: materialize(repo=repo, end=end, now=end))
        rows = run.step(
            "Read online features",
            lambda: read_online(
                repo=repo,
                entities={"driver_id": DEMO_DRIVERS},
                feature_service="driver_activity_v1",
            ),
        )
        run.outputs["online_rows"] = rows
        _print_rows(rows)
        from slipway.demo.gitops import run_gitops

        run_gitops(run=run, end=end, keep_running=keep_running, tracking=tracking)
    finally:
        stop(tracking)  # still running only when a step above failed
    _print_summary(run, reports_dir)
    return run


def _print_rows(rows: list[dict[str, Any]]) -> None:
    table = Table(title="Online features (driver_activity_v1)")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)


def _print_summary(run: DemoRun, reports_dir: Path) -> None:
    total = sum(seconds for _, seconds in run.timings)
    console.rule("[bold]Summary[/bold]")
    console.print(f"feature repo:       {run.repo.path}")
    console.print(f"online store:       {run.repo.data_dir / 'online_store.db'}")
    console.print(f"validation reports: {reports_dir / 'index.html'}")
    for label, value in run.outputs.get("links", {}).items():
        console.print(f"{label + ':':20}{value}")
    console.print(f"total:              {total:.1f}s")
