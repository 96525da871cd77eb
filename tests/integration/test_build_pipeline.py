"""The build pipeline on a real Feast repo with demo data: AUC, determinism, gate, data gate.

One session fixture writes the demo data and applies the repo; one local build registers
driver_ranking version 1; the other tests reuse both. The regression model trip_fare builds on
the same data; labels that do not fit a task fail before training, through the CLI.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from feature_store.demo_data import DemoSizes, write_demo_data
from feature_store.errors import ValidationFailedError
from feature_store.registry_sync import apply
from feature_store.repo import FeatureRepo
from model_build.definition.catalog import MODELS_DIR
from model_build.errors import GateFailedError
from model_build.pipeline.local_runner import BuildResult, run_local
from model_build.pipeline.plots import plot_files
from model_build.pipeline.serving import ServingModel
from model_build.pipeline.steps.gate import NoServingModel
from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import ApprovalStatus, NewVersion
from model_build.sagemaker.jobs import evaluate_job, prepare_job, train_job
from model_bundle.bundle import load_bundle, pack_bundle
from model_bundle.task import Task
from slipway.cli.app import run as slipway
from slipway.cli.build import build_app

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 1, tzinfo=UTC)
SIZES = DemoSizes(drivers=40, customers=150, days=10, trips=10_000)
FEATURES = [
    "conv_rate", "acc_rate", "avg_daily_trips", "rating", "cancel_rate", "online_hours",
    "current_balance", "avg_passenger_count", "lifetime_trip_count", "customer_segment",
    "tenure_days", "pickup_score", "distance_per_daily_trip", "trip_distance_km",
]  # fmt: skip
FEATURE_REPO = Path(__file__).resolve().parents[2] / "feature_repo"
ENVIRONMENTS = Path(__file__).resolve().parents[2] / "model_deploy" / "environments"
PROD_MANIFEST = ENVIRONMENTS / "prod" / "driver_ranking.yaml"
FIRST = NoServingModel(reason="first build: nothing serves yet")
DEFAULT_PARAMS_PATH = MODELS_DIR / "driver_ranking"
DEFINITION = DEFAULT_PARAMS_PATH / "model.yaml"
FARE = MODELS_DIR / "trip_fare"


def _prod_manifest(root: Path, *, version: int) -> Path:
    """``<root>/environments/prod/driver_ranking.yaml``: the checked-in prod manifest serving
    ``driver_ranking:<version>``, with the checked-in ``<root>/environments.yaml`` beside."""
    text = PROD_MANIFEST.read_text(encoding="utf-8")
    model = f"model:\n  name: driver_ranking\n  version: {version}\n"
    model += "  feature_service: driver_ranking_v1\n"
    path = root / "environments" / "prod" / "driver_ranking.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace("\nmodel: null\n", f"\n{model}"), encoding="utf-8")
    shutil.copyfile(ENVIRONMENTS.parent / "environments.yaml", root / "environments.yaml")
    return path


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    """A copy of the feature repo with seeded demo data, applied once per session."""
    path = tmp_path_factory.mktemp("build") / "feature_repo"
    shutil.copytree(FEATURE_REPO, path, ignore=shutil.ignore_patterns("data", "__pycache__"))
    write_demo_data(out_dir=path / "data", sizes=SIZES, seed=11, end=END)
    repo = FeatureRepo(path=path, env="local")
    apply(repo=repo)
    return repo


@pytest.fixture(scope="session")
def first_build(
    built_repo: FeatureRepo, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuildResult, LocalRegistry]:
    """Version 1: a local build with no serving version."""
    registry = LocalRegistry(tmp_path_factory.mktemp("registry"))
    result = run_local(
        repo=built_repo,
        model_path=DEFAULT_PARAMS_PATH,
        registry=registry,
        run_dir=tmp_path_factory.mktemp("runs"),
        serving=FIRST,
        now=END,
        git_commit="0" * 40,
    )
    return result, registry


def test_local_build_trains_a_good_model_and_registers_it(
    first_build: tuple[BuildResult, LocalRegistry],
) -> None:
    result, registry = first_build
    assert result.status == "registered"
    assert result.warnings == []
    assert result.metrics["roc_auc"] >= 0.75
    assert result.metrics["log_loss"] <= 0.60
    folder = result.run_dir
    for name in ("validation.json", "training_set.json", "evaluation.json", "gate.json"):
        assert (folder / name).is_file(), name
    assert sorted(p.name for p in (folder / "plots").iterdir()) == sorted(plot_files(Task.BINARY))
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "registered"
    assert run["warnings"] == []
    assert run["artifact_digest"] == result.artifact_digest
    assert set(run["timings"]) >= {"validate", "training_set", "train", "evaluate", "gate"}
    stats = json.loads((folder / "training_set.json").read_text())
    assert stats["rows"] == SIZES.trips
    assert stats["inputs"] == FEATURES
    assert set(stats["features"]) == set(FEATURES)
    assert stats["features"]["customer_segment"]["values"].keys() <= {
        "standard", "plus", "business",
    }  # fmt: skip
    validation = json.loads((folder / "validation.json").read_text())
    assert set(validation["sources"]) == {"trips", "driver_hourly_stats", "customer_profile"}
    assert validation["passed"]

    assert result.version is not None
    version = registry.get(model_name="driver_ranking", version=1)
    assert version == result.version
    assert version.artifact_digest == result.artifact_digest
    assert version.data_hash == result.data_hash
    assert version.features == FEATURES
    assert version.feature_service == "driver_ranking_v1"
    assert version.git_sha == "0" * 40
    assert version.params["train"]["seed"] == 42
    assert version.task == Task.BINARY
    assert version.metrics == result.metrics
    bundle = load_bundle(directory=folder / "bundle")
    assert bundle.features == FEATURES
    assert bundle.metadata["request_fields"] == ["trip_distance_km"]
    assert (bundle.task, bundle.classes) == (Task.BINARY, [0, 1])


def test_same_data_params_and_seed_give_the_same_model(
    first_build: tuple[BuildResult, LocalRegistry], built_repo: FeatureRepo, tmp_path: Path
) -> None:
    """A second build through the CLI, gated against version 1 serving in prod."""
    first, registry = first_build
    registry.set_status(model_name="driver_ranking", version=1, status=ApprovalStatus.APPROVED)
    manifest = _prod_manifest(tmp_path / "model_deploy", version=1)
    # No --prod-manifest: the deploy settings' folder, <SLIPWAY_DEPLOY_MANIFESTS_DIR>/prod.
    manifests = {"SLIPWAY_DEPLOY_MANIFESTS_DIR": str(manifest.parent.parent)}
    args = ["run", "--repo", str(built_repo.path), "--registry-path", str(registry.root)]
    args += ["--run-dir", str(tmp_path / "runs")]
    args += ["--now", END.isoformat(), "--model", "driver_ranking"]
    outcome = CliRunner().invoke(build_app, args, env=manifests)
    assert outcome.exit_code == 0, outcome.output
    said = " ".join(outcome.output.split())
    assert "Serving in prod: driver_ranking:1" in said
    assert "warning" not in said
    (run_json,) = (tmp_path / "runs").glob("*/run.json")
    second = json.loads(run_json.read_text())
    assert second["status"] == "registered"
    assert second["metrics"] == first.metrics
    assert second["artifact_digest"] == first.artifact_digest
    assert second["data_hash"] == first.data_hash
    gate = json.loads((run_json.parent / "gate.json").read_text())
    assert gate["baseline"]["ref"] == "driver_ranking:1"
    assert gate["baseline"]["source"] == "holdout"  # prod re-scored on the same holdout
    assert gate["baseline"]["metrics"]["roc_auc"] == first.metrics["roc_auc"]
    assert gate["passed"]
    assert registry.get(model_name="driver_ranking", version=2).artifact_digest == (
        first.artifact_digest
    )


def test_gate_blocks_a_candidate_worse_than_prod(
    first_build: tuple[BuildResult, LocalRegistry], built_repo: FeatureRepo, tmp_path: Path
) -> None:
    first, registry = first_build
    better = {**first.metrics, "roc_auc": first.metrics["roc_auc"] + 0.05}
    prod = registry.register(
        new=NewVersion(
            model_name="driver_ranking",
            artifact_digest=first.artifact_digest,
            metrics=better,
            feature_service="driver_ranking_v1",
            features=FEATURES,
            description="a better model serving in prod (recorded metrics)",
        ),
        bundle_dir=first.run_dir / "bundle",
    )
    before = len(registry.list_versions(model_name="driver_ranking"))
    with pytest.raises(GateFailedError) as caught:
        run_local(
            repo=built_repo, model_path=DEFAULT_PARAMS_PATH, registry=registry,
            run_dir=tmp_path, serving=ServingModel(version=prod, environment="prod"), now=END,
            rescore=False,
        )  # fmt: skip
    message = str(caught.value)
    assert f"roc_auc {first.metrics['roc_auc']:.4f} is 0.0500 worse than prod {prod.ref}" in message
    assert f"({better['roc_auc']:.4f})" in message
    assert "tolerance 0.0100" in message
    assert len(registry.list_versions(model_name="driver_ranking")) == before  # not registered
    (run_json,) = tmp_path.glob("*/run.json")
    run = json.loads(run_json.read_text())
    assert run["status"] == "blocked"
    assert "roc_auc" in run["error"]
    assert not json.loads((run_json.parent / "gate.json").read_text())["passed"]


def test_sagemaker_jobs_build_the_same_model(
    first_build: tuple[BuildResult, LocalRegistry], built_repo: FeatureRepo, tmp_path: Path
) -> None:
    """PrepareData -> Train -> Evaluate on temp folders: the same step code as the local run."""
    first, _ = first_build
    training_set = prepare_job(
        repo_dir=built_repo.path, definition_path=DEFINITION, out_dir=tmp_path / "ts", now=END
    )
    assert json.loads((training_set / "validation.json").read_text())["passed"]
    digest = train_job(
        training_set_dir=training_set, definition_path=DEFINITION, model_dir=tmp_path / "model"
    )
    assert digest == first.artifact_digest
    archive = pack_bundle(directory=tmp_path / "model", archive=tmp_path / "out" / "model.tar.gz")
    serving = json.dumps({"ref": "driver_ranking:1", "metrics": {"roc_auc": 0.99}})
    report = evaluate_job(
        model_path=archive.parent, training_set_dir=training_set, definition_path=DEFINITION,
        out_dir=tmp_path / "evaluation", serving=serving, run_id="exec-1", git_commit="abc",
    )  # fmt: skip
    assert report["metrics"] == first.metrics
    assert report["lineage"]["artifact_digest"] == first.artifact_digest
    assert report["lineage"]["data_hash"] == first.data_hash
    assert report["gate"]["serving_passed"] is False  # 0.99 in prod: the condition fails
    assert "worse than prod driver_ranking:1 (0.9900)" in report["gate"]["summary"]
    # lineage.json: what the SageMaker registry reads back through slipway.lineage_uri.
    record = json.loads((tmp_path / "evaluation" / "lineage.json").read_text())
    assert record["format"] == 1
    assert record["artifact_digest"] == first.artifact_digest
    assert record["run_id"] == "exec-1"
    assert record["git_sha"] == "abc"
    assert json.loads(record["features"]) == FEATURES
    assert json.loads(record["metrics"]) == first.metrics
    assert json.loads(record["params"])["train"]["seed"] == 42
    assert (tmp_path / "evaluation" / "plots" / "roc.png").is_file()


def test_data_gate_stops_the_build_before_training(built_repo: FeatureRepo, tmp_path: Path) -> None:
    path = tmp_path / "feature_repo"
    shutil.copytree(built_repo.path, path)
    trips = pd.read_parquet(path / "data" / "trips.parquet")
    trips.loc[trips.index[:25], "label"] = 2
    trips.to_parquet(path / "data" / "trips.parquet", index=False)
    registry = LocalRegistry(tmp_path / "registry")
    with pytest.raises(ValidationFailedError, match="trips") as caught:
        run_local(
            repo=FeatureRepo(path=path), model_path=DEFAULT_PARAMS_PATH, registry=registry,
            run_dir=tmp_path / "runs", serving=FIRST, now=END,
        )  # fmt: skip
    assert "label" in str(caught.value)
    (run_json,) = (tmp_path / "runs").glob("*/run.json")
    run = json.loads(run_json.read_text())
    assert (run["status"], run["failed_step"]) == ("failed", "validate")
    assert "train" not in run["timings"]
    assert not (run_json.parent / "bundle").exists()
    assert registry.list_models() == []


def test_cli_warns_when_there_is_nothing_to_compare_with(
    built_repo: FeatureRepo, tmp_path: Path
) -> None:
    """No prod manifest: the build still runs on absolute thresholds, and says so."""
    args = ["run", "--repo", str(built_repo.path), "--registry-path", str(tmp_path / "registry")]
    args += ["--run-dir", str(tmp_path / "runs"), "--now", END.isoformat()]
    args += ["--prod-manifest", str(tmp_path / "absent" / "prod.yaml"), "-m", "driver_ranking"]
    outcome = CliRunner().invoke(build_app, args)
    assert outcome.exit_code == 0, outcome.output
    said = " ".join(outcome.output.split())
    assert "warning: " in said
    assert "prod.yaml not found" in said
    assert said.count("prod.yaml not found") == 1  # said once, not again under the result
    (run_json,) = (tmp_path / "runs").glob("*/run.json")
    run = json.loads(run_json.read_text())
    assert run["status"] == "registered"
    (warning,) = run["warnings"]
    assert "prod.yaml not found" in warning
    gate = json.loads((run_json.parent / "gate.json").read_text())
    assert gate["baseline"] is None
    assert gate["no_baseline"]["warning"] is True


@pytest.mark.parametrize(
    ("task", "label", "reason"),
    [
        ("binary", "fare", "label 'fare' is float64 (e.g. "),
        ("multiclass", "trip_id", "label 'trip_id' has 10000 classes"),
        ("multiclass", "label", "label 'label' has 2 classes (0, 1); use task 'binary'"),
        ("regression", "event_timestamp", "but task 'regression' needs a numeric label"),
    ],
)
def test_a_label_that_does_not_fit_the_task_fails_before_training(
    built_repo: FeatureRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    task: str,
    label: str,
    reason: str,
) -> None:
    """One line on stderr naming the file, the field and the label; nothing trained."""
    folder = tmp_path / "models" / "driver_ranking"
    folder.mkdir(parents=True)
    text = DEFINITION.read_text(encoding="utf-8")
    text = text.replace("task: binary", f"task: {task}").replace(
        "label: label ", f"label: {label} "
    )
    text = text.replace("threshold: 0.5 ", "# threshold ").replace("roc_auc: 0.75", "pr_auc: 0.1")
    text = text.replace("log_loss: 0.60", "brier: 0.9").replace("roc_auc: 0.01", "pr_auc: 0.1")
    text = text.replace("log_loss: 0.02", "brier: 0.1")
    if task == "regression":
        text = text.replace("pr_auc: 0.1", "rmse: 9.0").replace("brier: 0.9", "mae: 9.0")
        text = text.replace("brier: 0.1", "mae: 0.1")
    (folder / "model.yaml").write_text(text, encoding="utf-8")
    args = ["build", "run", "--model", str(folder), "--repo", str(built_repo.path)]
    args += ["--registry-path", str(tmp_path / "registry"), "--run-dir", str(tmp_path / "runs")]
    args += ["--now", END.isoformat(), "--no-compare-prod"]
    assert slipway(args) == 1
    lines = capsys.readouterr().err.strip().splitlines()  # progress lines, then the error
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == lines[-1:], lines
    said = errors[0]
    assert said.startswith(f"error: {folder / 'model.yaml'}: field 'data.label': ")
    assert reason in said
    (run_json,) = (tmp_path / "runs").glob("*/run.json")
    run = json.loads(run_json.read_text())
    assert (run["status"], run["failed_step"]) == ("failed", "label")
    assert "training_set" not in run["timings"]  # checked after the data gate, before the join
    assert "train" not in run["timings"]


def test_the_regression_model_builds_every_model_folder_in_one_run(
    first_build: tuple[BuildResult, LocalRegistry],
    built_repo: FeatureRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No --model: every model folder (driver_ranking and trip_fare) is built; JSON lists both."""
    first, _ = first_build
    args = ["build", "run", "--repo", str(built_repo.path), "--format", "json"]
    args += ["--registry-path", str(tmp_path / "registry"), "--run-dir", str(tmp_path / "runs")]
    args += ["--now", END.isoformat(), "--no-compare-prod"]
    assert slipway(args) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    builds = {b["model"]: b for b in report["builds"]}
    assert report["failed"] == []
    assert set(builds) >= {"driver_ranking", "trip_fare"}
    assert builds["driver_ranking"]["artifact_digest"] == first.artifact_digest
    fare = builds["trip_fare"]
    assert (fare["task"], fare["status"], fare["version"]) == (
        "regression",
        "registered",
        "trip_fare:1",
    )
    assert fare["metrics"]["r2"] >= 0.8
    assert fare["metrics"]["mape"] <= 0.10
    assert set(fare["metrics"]) >= {"rmse", "mae", "r2", "mape", "residual_q50"}
    plots = Path(fare["run_dir"]) / "plots"
    assert sorted(p.name for p in plots.iterdir()) == sorted(plot_files(Task.REGRESSION))
    bundle = load_bundle(directory=Path(fare["run_dir"]) / "bundle")
    assert (bundle.task, bundle.classes, bundle.threshold) == (Task.REGRESSION, None, None)
    assert "trip_distance_km" in bundle.features
    assert {"log_distance_km", "supply_gap", "customer_segment"} <= set(bundle.features)
    registry = LocalRegistry(tmp_path / "registry")
    assert registry.get(model_name="trip_fare", version=1).task == Task.REGRESSION
