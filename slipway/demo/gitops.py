"""Second half of the main job: model build and GitOps promotion through every environment."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from slipway.demo.batch import BatchRun, finish_batch, start_batch
from slipway.demo.commands import MANIFESTS, LoopPaths, Started, finish, slipway, stop
from slipway.demo.loop import (
    ENVIRONMENTS,
    MODELS,
    build_checkout,
    build_models,
    deploy,
    feature_server,
    init_gitops_repo,
    promote,
    stop_endpoints,
)
from slipway.demo.monitoring import (
    MonitoringOutcome,
    PendingMonitoring,
    finish_monitoring,
    start_monitoring,
)
from slipway.demo.progress import console
from slipway.errors import DemoError

if TYPE_CHECKING:
    from slipway.demo.progress import DemoRun

CHECKOUT = Path(__file__).resolve().parents[2]
DRIVER, CUSTOMER, DISTANCE = 1001, 201, 7.5
#: Which online features each model reads, and the request values it needs.
SERVICES = {"driver_ranking": "driver_ranking_v1", "trip_fare": "trip_fare_v1"}


def run_gitops(
    *, run: DemoRun, end: datetime, keep_running: bool, tracking: Started | None = None
) -> None:
    """Build and register both models, promote each dev -> staging -> prod by PR, predict.

    The driver ranking classifier and the trip fare regression model travel the same loop,
    each through its own manifests (``<env>/<model>.yaml``), pull requests and endpoints; the
    build runs in a git checkout so each version records its build commit. Independent work
    runs side by side: the two builds, the two deploys of an environment, and a small batch
    scoring while the promotions go on.

    Args:
        run: The demo run (its repo is applied and materialized).
        end: The demo data's end time (the build's "now").
        keep_running: Leave the endpoints running afterwards.
        tracking: The started :func:`~slipway.demo.loop.init_tracking` (waited for before the
            builds), if the caller started it early.
    """
    paths = LoopPaths(root=run.workdir, feature_repo=run.repo.path)
    source = _deploy_source()
    stop_endpoints(paths)  # a previous run's endpoints, if any
    run.step("Create the local git forge", lambda: init_gitops_repo(paths=paths, source=source))
    checkout = build_checkout(paths=paths, checkout=_checkout())
    run.outputs["build_checkout"] = str(checkout)
    if tracking is not None:
        finish(tracking)
    builds = run.step(
        "Build, evaluate and register every model (slipway build run, one process per model)",
        lambda: build_models(paths, checkout=checkout, now=end.isoformat()),
    )
    versions = {build["model"]: build["version"] for build in builds}
    run.outputs["versions"] = versions
    run.outputs["version"] = int(versions[MODELS[0]].split(":")[1])
    _print_builds(builds, paths)
    batch = start_batch(paths, model=versions[MODELS[0]], trips=run.repo.data_dir / "trips.parquet")
    for model in MODELS:
        ref = versions[model]
        run.step(
            f"Approve {ref} (slipway models approve)",
            functools.partial(slipway, paths, "models", "approve", ref, "--reason", "demo"),
        )
    predictions: dict[str, Any] = {}
    try:
        for env in ENVIRONMENTS:
            promoted = [
                run.step(
                    f"Promote {model} to {env}: PR, plan comment, approve, merge",
                    functools.partial(
                        promote,
                        paths,
                        env,
                        model=model,
                        version=versions[model] if env == "dev" else None,
                    ),
                )
                for model in MODELS
            ]
            run.step(
                f"Deploy {env}: {', '.join(MODELS)} side by side (slipway deploy apply)",
                functools.partial(deploy, paths, promoted),
            )
            run.outputs.setdefault("promotions", []).extend(promoted)
        # Prod's traffic goes first; its monitor runs work while the predictions are made.
        pending = _start_monitoring(run, paths, build=builds[0])
        try:
            predictions.update(
                run.step("Query features and both prod endpoints", lambda: _predict_all(paths))
            )
        except BaseException:
            pending.stop()
            raise
        run.outputs["predictions"] = predictions
        run.outputs["prediction"] = predictions[MODELS[0]]
        scored = finish_batch(batch)  # ran beside the promotions; one line, no step
        _print_batch(batch, scored)
        monitored = _finish_monitoring(run, paths, pending)
    finally:
        stop(batch.started)  # still running only when a step above failed
        if not keep_running:
            stop_endpoints(paths)
    run.outputs["links"] = {
        "models": ", ".join(f"{ref}" for ref in versions.values())
        + f" (registry {paths.registry})",
        "build checkout": str(checkout),
        "build runs": str(paths.runs),
        "tracked runs": f"slipway runs list --registry-path {paths.registry}",
        "batch scores": str(batch.output),
        "gitops repo": f"{paths.git_repo} (slipway ci pr list)",
        **{f"prediction {model}": json.dumps(p) for model, p in predictions.items()},
        "monitor report": str(monitored.report),
        "retrain": f"pull request #{monitored.pr}, issue #{monitored.issue} (slipway ci pr list)",
    }


def _start_monitoring(
    run: DemoRun, paths: LoopPaths, *, build: dict[str, Any]
) -> PendingMonitoring:
    """Send prod's first model its two windows and start their monitor runs."""
    model = str(build["model"])
    run_dir = build.get("run_dir")
    return start_monitoring(
        paths,
        model=model,
        version=str(build["version"]),
        run_dir=Path(run_dir) if run_dir else None,
        port=_port(paths, f"prod/{model}"),
        step=run.step,
    )


def _finish_monitoring(
    run: DemoRun, paths: LoopPaths, pending: PendingMonitoring
) -> MonitoringOutcome:
    """The monitor runs' verdicts and the retrain pull request; their lines."""
    outcome = finish_monitoring(paths, pending, step=run.step)
    run.outputs["monitoring"] = outcome
    for name, doc in (("training-like", outcome.clean), ("shifted", outcome.shifted)):
        found = ", ".join(
            f"{v.get('constraint_check_type')} {v.get('feature_name')}"
            for v in doc.get("violations") or []
        )
        window = doc.get("window") or {}
        console.print(
            f"  {name} window: {window.get('requests')} captured requests, "
            f"{window.get('rows')} rows: {doc.get('status')}"
            + (f" ({found})" if found else " (no violation)")
        )
    console.print(
        f"  Retrain: pull request #{outcome.pr} ({outcome.retrain.get('branch')}), "
        f"issue #{outcome.issue}; report {outcome.report}"
    )
    return outcome


def _print_builds(builds: list[dict[str, Any]], paths: LoopPaths) -> None:
    """One line for the tracked runs and one for the SHAP explanations."""
    runs = ", ".join(
        f"{b['version']} {(b.get('tracking') or {}).get('run_id', 'untracked')}" for b in builds
    )
    console.print(f"  MLflow runs: {runs} (slipway runs list --registry-path {paths.registry})")
    plots = ", ".join(f"{b['model']} {b.get('shap_plot') or 'none'}" for b in builds)
    console.print(f"  SHAP importance: {plots}")


def _print_batch(batch: BatchRun, scored: dict[str, Any]) -> None:
    """One line: rows scored, the version, where they went."""
    console.print(
        f"  Batch scoring: {scored.get('rows')} trips scored by {batch.model} "
        f"in {float(scored.get('seconds') or 0):.1f}s -> {scored.get('output', batch.output)}"
    )


def _checkout() -> Path:
    """The Slipway checkout the demo runs from (holding model_build/models)."""
    for candidate in (Path.cwd(), CHECKOUT):
        if (candidate / "model_build" / "models").is_dir():
            return candidate
    raise DemoError("model_build/models not found; run the demo from the Slipway checkout")


def _deploy_source() -> Path:
    for candidate in (Path.cwd() / "model_deploy", CHECKOUT / "model_deploy"):
        if (candidate / "environments.yaml").is_file():
            return candidate
    raise DemoError("model_deploy/environments.yaml not found; run the demo from the checkout")


def _predict_all(paths: LoopPaths) -> dict[str, Any]:
    """A prediction from each model's prod endpoint, on features from one feature server."""
    with feature_server(paths) as url:
        return {model: _predict(paths, model, url=url) for model in MODELS}


def _predict(paths: LoopPaths, model: str, *, url: str) -> dict[str, Any]:
    """A prediction from ``model``'s prod endpoint, on features read from the feature server."""
    prod_port = _port(paths, f"prod/{model}")
    meta = httpx.get(f"http://127.0.0.1:{prod_port}/metadata", timeout=10).json()
    body = {
        "feature_service": SERVICES[model],
        "entities": {
            "driver_id": [DRIVER],
            "customer_id": [CUSTOMER],
            "trip_distance_km": [DISTANCE],
        },
    }
    response = httpx.post(f"{url}/get-online-features", json=body, timeout=10)
    if response.status_code != 200:
        raise DemoError(f"feature server answered {response.status_code}: {response.text}")
    doc = response.json()
    names = doc["metadata"]["feature_names"]
    row = {name: result["values"][0] for name, result in zip(names, doc["results"], strict=True)}
    instance = {
        name: row.get(name, DISTANCE if name == "trip_distance_km" else None)
        for name in meta["features"]
    }
    answer = httpx.post(
        f"http://127.0.0.1:{prod_port}/invocations", json={"instances": [instance]}, timeout=10
    )
    if answer.status_code != 200:
        raise DemoError(f"prod {model} endpoint answered {answer.status_code}: {answer.text}")
    prediction = answer.json()["predictions"][0]
    return {
        "driver_id": DRIVER,
        "customer_id": CUSTOMER,
        **prediction,
        "model": answer.json()["model"]["ref"],
    }


def _port(paths: LoopPaths, key: str) -> int:
    from model_deploy.manifest.loader import load_manifest

    loaded = load_manifest(path=paths.git_repo / MANIFESTS / f"{key}.yaml")
    port = getattr(loaded.manifest.target, "port", None)
    if port is None:
        raise DemoError(f"{key}: the demo needs a local target with a port")
    return int(port)
