"""The main job's monitoring step: prod traffic, ``slipway monitor run``, retrain by pull request.

Once prod is live, the step sends the prod endpoint of one model (the local target, over HTTP,
as a client would) two batches of requests and monitors each window with the real
``slipway monitor run prod --model M --format json``, as a subprocess with the demo's settings:

1. rows drawn from the training distribution (the version's registered baseline sample): the
   run must complete without a violation (exit 0);
2. the same kind of rows with the model's most important numeric feature (the build's
   permutation importance) moved by half a standard deviation: the run must report a
   ``baseline_drift_check`` violation naming that feature (exit 1);
3. ``slipway ci retrain`` on the shifted run's result, against the demo's local forge: exactly
   one open retrain pull request and one open monitoring issue must exist afterwards.

Rerunning the step on the same deployment converges: the retrain pull request and the issue
are updated, never duplicated. The demo's prod manifests capture every request and skip
Evidently's ``drift.html`` (:func:`slipway.demo.loop.init_gitops_repo`), so each window holds
exactly the rows sent and a run writes Slipway's ``report.html`` only.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from slipway.demo.commands import LoopPaths, Started, finish_code, start, stop
from slipway.demo.verdicts import (
    DRIFT_CHECK,
    ENV,
    SHIFT_SD,
    check_clean,
    check_forge,
    check_shifted,
    parse_result,
    retrain_by_pr,
)
from slipway.errors import DemoError

__all__ = [
    "DRIFT_CHECK",
    "MonitoringOutcome",
    "PendingMonitoring",
    "check_clean",
    "check_shifted",
    "finish_monitoring",
    "parse_result",
    "run_monitoring",
    "start_monitoring",
]

if TYPE_CHECKING:
    import pandas as pd

REQUESTS: Final = 20
"""Requests per batch."""
ROWS_PER_REQUEST: Final = 100
"""Rows per request (``{"instances": [...]}``): 2,000 rows a batch, the acceptance tests' size."""
SEED: Final = 14
CLIENTS: Final = 4
"""Requests in flight at once (the local router is threaded)."""

T = TypeVar("T")


class Step(Protocol):
    """Runs one stage of the step under a title (the demo's ``DemoRun.step``)."""

    def __call__(self, title: str, action: Callable[[], T], /) -> T:
        """Run ``action``; its value."""
        ...


def _direct(title: str, action: Callable[[], T]) -> T:
    """Run a stage without showing it (tests; the demo passes its timed step)."""
    return action()


@dataclass(frozen=True)
class Window:
    """One batch of requests: the window it fills and what was sent."""

    since: datetime
    until: datetime
    rows: int


@dataclass(frozen=True)
class MonitoringOutcome:
    """What the step showed (for the summary and the tests).

    Attributes:
        deployment: ``prod/<model>``.
        version: The version monitored (``model:version``).
        feature: The feature shifted.
        clean: The training-like window's ``slipway monitor run --format json`` result.
        shifted: The shifted window's result.
        retrain: ``slipway ci retrain --format json``'s result.
        report: The shifted run's HTML report.
        pr: The open retrain pull request's number.
        issue: The open monitoring issue's number.
        port: The prod endpoint's port.
        run_dir: The build's run folder the feature ranking came from.
    """

    deployment: str
    version: str
    feature: str
    clean: dict[str, Any]
    shifted: dict[str, Any]
    retrain: dict[str, Any]
    report: str | None
    pr: int
    issue: int
    port: int
    run_dir: Path | None


@dataclass
class PendingMonitoring:
    """Both windows sent and their monitor runs started (see :func:`start_monitoring`)."""

    model: str
    version: str
    feature: str
    folder: Path
    runs: tuple[Started, Started]
    port: int
    run_dir: Path | None

    def stop(self) -> None:
        """Kill the monitor runs that still run (after a failure elsewhere) and reap them."""
        for each in self.runs:
            stop(each)


def run_monitoring(
    paths: LoopPaths,
    *,
    model: str,
    version: str,
    run_dir: Path | None,
    port: int,
    step: Step = _direct,
) -> MonitoringOutcome:
    """Run the whole step on ``prod/<model>`` (serving ``version``) at ``port``.

    :func:`start_monitoring` then :func:`finish_monitoring`; the demo runs its prod
    predictions between the two, while the monitor runs work.

    Args:
        paths: Demo paths (registry, forge, deploy state, monitor folder).
        model: The model monitored.
        version: ``model:version`` serving in prod (its baseline is the traffic's source).
        run_dir: The build's run folder (its ``evaluation.json`` ranks the features), if known.
        port: The prod endpoint's port on 127.0.0.1.
        step: Runs each stage under a title (the demo's :meth:`DemoRun.step`: a timed line).

    Raises:
        DemoError: A run's verdict is not the expected one, a command failed, or the forge
            does not hold exactly one retrain pull request and one issue afterwards.
    """
    pending = start_monitoring(
        paths, model=model, version=version, run_dir=run_dir, port=port, step=step
    )
    return finish_monitoring(paths, pending, step=step)


def start_monitoring(
    paths: LoopPaths,
    *,
    model: str,
    version: str,
    run_dir: Path | None,
    port: int,
    step: Step = _direct,
) -> PendingMonitoring:
    """Send both batches and start each window's ``slipway monitor run`` once it is in.

    The caller must :func:`finish_monitoring` it, or :meth:`PendingMonitoring.stop` it.

    Raises:
        DemoError: The version has no baseline, or the endpoint answered with an error.
    """
    reference, fractional = baseline_sample(paths, version=version)
    feature = important_feature(fractional, run_dir=run_dir)
    folder = paths.monitor / "demo"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rows = REQUESTS * ROWS_PER_REQUEST

    def traffic() -> tuple[Started, Started]:
        clean = send(port=port, rows=draw(reference, seed=SEED, shift=None))
        first = start_monitor(paths, model=model, window=clean, out=folder / "clean")
        try:
            shifted = send(port=port, rows=draw(reference, seed=SEED + 1, shift=feature))
        except BaseException:
            stop(first)
            raise
        return first, start_monitor(paths, model=model, window=shifted, out=folder / "shifted")

    runs = step(
        f"Send {ENV}/{model} {rows:,} rows like the training data, then {rows:,} with "
        f"{feature} moved by {SHIFT_SD} sd",
        traffic,
    )
    return PendingMonitoring(model, version, feature, folder, runs, port, run_dir)


def finish_monitoring(
    paths: LoopPaths, pending: PendingMonitoring, *, step: Step = _direct
) -> MonitoringOutcome:
    """Check both monitor runs' verdicts, then retrain by pull request on the shifted one.

    Raises:
        DemoError: A run's verdict is not the expected one, a command failed, or the forge
            does not hold exactly one retrain pull request and one issue afterwards.
    """
    model, feature = pending.model, pending.feature

    def monitor() -> tuple[dict[str, Any], dict[str, Any]]:
        outputs = [finish_code(each, ok=(0, 1)) for each in pending.runs]
        clean, shifted = (parse_result(code, out) for code, out in outputs)
        check_clean(clean)
        check_shifted(shifted, feature=feature)
        return clean, shifted

    try:
        clean, shifted = step(
            f"Monitor both windows (slipway monitor run {ENV} --model {model})", monitor
        )
    finally:
        pending.stop()  # still running only when the other one failed
    result_file = pending.folder / "shifted.json"
    result_file.write_text(json.dumps(shifted), encoding="utf-8")
    report = shifted.get("report")

    def retrain() -> tuple[dict[str, Any], tuple[int, int]]:
        done = retrain_by_pr(paths, model=model, result=result_file, report=report)
        return done, check_forge(paths, model=model)

    done, (pr, issue) = step("Retrain by pull request (slipway ci retrain)", retrain)
    return MonitoringOutcome(
        deployment=f"{ENV}/{model}",
        version=pending.version,
        feature=feature,
        clean=clean,
        shifted=shifted,
        retrain=done,
        report=report,
        pr=pr,
        issue=issue,
        port=pending.port,
        run_dir=pending.run_dir,
    )


def baseline_sample(paths: LoopPaths, *, version: str) -> tuple[pd.DataFrame, list[str]]:
    """The features of the version's registered baseline sample (rows of the training set).

    Returns:
        The sample's feature columns, and the names of the fractional ones.

    Raises:
        DemoError: The version was registered without a baseline.
    """
    from model_build.registry.local import LocalRegistry
    from model_monitor.baseline import load_baseline
    from model_monitor.columns import InferredType

    name, number = version.split(":")
    folder = LocalRegistry(paths.registry).fetch_baseline(
        model_name=name, version=int(number), directory=paths.monitor / "baseline" / name
    )
    if folder is None:
        raise DemoError(f"{version} was registered without a monitoring baseline")
    baseline = load_baseline(directory=folder)
    features = list(baseline.schema.features)
    types = baseline.schema.types
    fractional = [f for f in features if types[f] is InferredType.FRACTIONAL]
    return baseline.reference[features].reset_index(drop=True), fractional


def important_feature(fractional: list[str], *, run_dir: Path | None) -> str:
    """The most important fractional feature (the build's permutation importance).

    A fractional one, so moving it keeps every value of the type the baseline expects; the
    first fractional feature when the build's evaluation is not at hand.

    Raises:
        DemoError: The model has no fractional feature.
    """
    if not fractional:
        raise DemoError("the model has no fractional feature to shift")
    ranked: list[str] = []
    evaluation = run_dir / "evaluation.json" if run_dir is not None else None
    if evaluation is not None and evaluation.is_file():
        doc = json.loads(evaluation.read_text(encoding="utf-8"))
        ranked = [str(item["feature"]) for item in doc.get("feature_importance") or []]
    return next((name for name in ranked if name in fractional), fractional[0])


def draw(reference: pd.DataFrame, *, seed: int, shift: str | None) -> pd.DataFrame:
    """``REQUESTS * ROWS_PER_REQUEST`` rows drawn from the sample; ``shift`` moved by SHIFT_SD."""
    import numpy as np

    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(reference), REQUESTS * ROWS_PER_REQUEST)
    rows = reference.iloc[picked].reset_index(drop=True)
    if shift is not None:
        column = reference[shift].astype("float64")
        rows[shift] = rows[shift].astype("float64") + SHIFT_SD * float(np.nanstd(column))
    return rows


def send(*, port: int, rows: pd.DataFrame) -> Window:
    """POST ``rows`` to ``/invocations`` in requests of ROWS_PER_REQUEST; the window they fill.

    The window is whole seconds (capture times are compared at whole seconds): it starts at
    the second the first request is sent and ends after the second of the last answer, which
    has passed when this returns, so the next batch falls in a later window.

    Raises:
        DemoError: The endpoint answered a request with an error.
    """
    import httpx

    bodies = [
        '{"instances": ' + rows.iloc[i : i + ROWS_PER_REQUEST].to_json(orient="records") + "}"
        for i in range(0, len(rows), ROWS_PER_REQUEST)
    ]
    since = _second(datetime.now(UTC))
    with (
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
        ThreadPoolExecutor(CLIENTS) as pool,
    ):

        def post(body: str) -> httpx.Response:
            return client.post(
                "/invocations", content=body, headers={"Content-Type": "application/json"}
            )

        for answer in pool.map(post, bodies):
            if answer.status_code != 200:
                raise DemoError(
                    f"{ENV} endpoint on port {port} answered {answer.status_code}: "
                    f"{answer.text[:200]}"
                )
    until = _second(datetime.now(UTC)) + timedelta(seconds=1)
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.05)
    return Window(since=since, until=until, rows=len(rows))


def start_monitor(paths: LoopPaths, *, model: str, window: Window, out: Path) -> Any:
    """Start ``slipway monitor run prod --model M`` over ``window`` (JSON into stdout)."""
    return start(
        paths,
        "monitor", "run", ENV,
        "--model", model,
        "--since", window.since.isoformat(),
        "--until", window.until.isoformat(),
        "--out", str(out),
        "--format", "json",
    )  # fmt: skip


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
