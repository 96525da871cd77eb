"""Second half of the main job: model build and GitOps promotion through every environment."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from slipway.demo.loop import (
    ENVIRONMENTS,
    MODEL,
    LoopPaths,
    feature_server,
    init_gitops_repo,
    latest_version,
    promote_and_deploy,
    slipway,
    stop_endpoints,
)
from slipway.errors import DemoError

if TYPE_CHECKING:
    from slipway.demo.progress import DemoRun

CHECKOUT = Path(__file__).resolve().parents[2]
DRIVER, CUSTOMER, DISTANCE = 1001, 201, 7.5


def run_gitops(*, run: DemoRun, end: datetime, keep_running: bool) -> None:
    """Build, register, approve, promote dev -> staging -> prod by PR, then serve a prediction.

    Args:
        run: The demo run (its repo is applied and materialized).
        end: The demo data's end time (the build's "now").
        keep_running: Leave the endpoints running afterwards.
    """
    paths = LoopPaths(root=run.workdir, feature_repo=run.repo.path)
    source = _manifests_source()
    stop_endpoints(paths)  # a previous run's endpoints, if any
    run.step("Create the local git forge", lambda: init_gitops_repo(paths=paths, source=source))
    run.step(
        "Build, evaluate and register (slipway build run)",
        lambda: slipway(
            paths,
            "build",
            "run",
            "--repo",
            str(paths.feature_repo),
            "--run-dir",
            str(paths.runs),
            "--registry-path",
            str(paths.registry),
            "--now",
            end.isoformat(),
        ),
    )
    version = latest_version(paths)
    run.outputs["version"] = version
    run.step(
        f"Approve {MODEL}:{version} (slipway models approve)",
        lambda: slipway(paths, "models", "approve", f"{MODEL}:{version}", "--reason", "demo"),
    )
    try:
        for env in ENVIRONMENTS:
            facts = run.step(
                f"Promote to {env}: PR, plan comment, approve, merge, deploy",
                functools.partial(
                    promote_and_deploy, paths, env, version=version if env == "dev" else None
                ),
            )
            run.outputs.setdefault("promotions", []).append(facts)
        prediction = run.step("Query features and the prod endpoint", lambda: _predict(paths))
        run.outputs["prediction"] = prediction
    finally:
        if not keep_running:
            stop_endpoints(paths)
    run.outputs["links"] = {
        "model": f"{MODEL}:{version} (registry {paths.registry})",
        "build runs": str(paths.runs),
        "gitops repo": f"{paths.git_repo} (slipway ci pr list)",
        "prediction": json.dumps(prediction),
    }


def _manifests_source() -> Path:
    for candidate in (
        Path.cwd() / "model_deploy" / "environments",
        CHECKOUT / "model_deploy" / "environments",
    ):
        if (candidate / "prod.yaml").is_file():
            return candidate
    raise DemoError("model_deploy/environments not found; run the demo from the Slipway checkout")


def _predict(paths: LoopPaths) -> dict[str, Any]:
    prod_port = _port(paths, "prod")
    with feature_server(paths) as url:
        body = {
            "feature_service": "driver_ranking_v1",
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
    meta = httpx.get(f"http://127.0.0.1:{prod_port}/metadata", timeout=10).json()
    instance = {
        name: row.get(name, DISTANCE if name == "trip_distance_km" else None)
        for name in meta["features"]
    }
    answer = httpx.post(
        f"http://127.0.0.1:{prod_port}/invocations", json={"instances": [instance]}, timeout=10
    )
    if answer.status_code != 200:
        raise DemoError(f"prod endpoint answered {answer.status_code}: {answer.text}")
    prediction = answer.json()["predictions"][0]
    return {
        "driver_id": DRIVER,
        "customer_id": CUSTOMER,
        **prediction,
        "model": answer.json()["model"]["ref"],
    }


def _port(paths: LoopPaths, env: str) -> int:
    from model_deploy.manifest.loader import load_manifest

    loaded = load_manifest(path=paths.git_repo / "model_deploy" / "environments" / f"{env}.yaml")
    port = getattr(loaded.manifest.target, "port", None)
    if port is None:
        raise DemoError(f"{env}: the demo needs a local target with a port")
    return int(port)
