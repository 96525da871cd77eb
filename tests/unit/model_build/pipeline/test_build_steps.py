"""Train, evaluate and the training-set helpers on a synthetic binary training set (no Feast)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from build_kits import INFO, driver_ranking
from build_kits import training_set as _kit_training_set

from model_build.definition.schema import ModelDefinition
from model_build.errors import PipelineError
from model_build.pipeline.plots import plot_files, write_plots
from model_build.pipeline.steps.evaluate import evaluate_model, score, write_evaluation
from model_build.pipeline.steps.labels import LabelInfo, check_label
from model_build.pipeline.steps.register import git_sha, new_version
from model_build.pipeline.steps.train import make_bundle, split_by_time, train_model
from model_build.pipeline.steps.training_set import (
    TrainingSet,
    frame_digest,
    load_training_set,
    save_training_set,
)
from model_bundle.bundle import load_bundle, save_bundle
from model_bundle.task import Task


def _training_set(rows: int = 1200, seed: int = 3) -> TrainingSet:
    return _kit_training_set("binary", rows=rows, seed=seed)


def _label(ts: TrainingSet) -> LabelInfo:
    return check_label(ts.frame[ts.label], task=Task.BINARY, label=ts.label, source="model.yaml")


@pytest.fixture(scope="module")
def params() -> ModelDefinition:
    """The driver ranking definition with fewer iterations (fast)."""
    loaded = driver_ranking()
    hyper = {**loaded.train.hyperparameters, "max_iter": 40}
    return loaded.model_copy(
        update={
            "train": loaded.train.model_copy(update={"hyperparameters": hyper}),
            "evaluate": loaded.evaluate.model_copy(update={"permutation_repeats": 2}),
        }
    )


def test_model_inputs_are_service_features_then_request_fields() -> None:
    assert INFO.inputs == ["x1", "x2", "segment", "distance"]
    assert _training_set().features == INFO.inputs


def test_frame_digest_is_stable_and_sensitive() -> None:
    first, again = _training_set(), _training_set()
    assert first.data_hash == again.data_hash
    changed = first.frame.copy()
    changed.loc[5, "x1"] = np.float32(changed.loc[5, "x1"] + 1)
    assert frame_digest(changed) != first.data_hash
    reordered = first.frame[list(reversed(first.frame.columns))]
    assert frame_digest(reordered) == first.data_hash  # column order does not matter


def test_split_keeps_equal_timestamps_together() -> None:
    ts = _training_set(rows=100)
    frame = ts.frame.copy()
    frame["event_timestamp"] = frame["event_timestamp"].iloc[75]  # every row at one moment...
    frame.loc[:49, "event_timestamp"] = frame["event_timestamp"].iloc[0] - pd.Timedelta(hours=1)
    tied = TrainingSet(
        frame=frame, info=INFO, label="label", timestamp="event_timestamp", id_column="trip_id",
        data_hash=frame_digest(frame),
    )  # fmt: skip
    train, holdout, split = split_by_time(tied, holdout_fraction=0.2)
    assert (split.train_rows, split.holdout_rows) == (50, 50)
    assert train["event_timestamp"].max() < holdout["event_timestamp"].min()


def test_split_refuses_single_class_parts() -> None:
    ts = _training_set(rows=100)
    frame = ts.frame.assign(label=0)
    with pytest.raises(PipelineError, match="single label class"):
        split_by_time(
            TrainingSet(frame=frame, info=INFO, label="label", timestamp="event_timestamp",
                        id_column="trip_id", data_hash="x"),
            holdout_fraction=0.2,
        )  # fmt: skip


def test_training_is_deterministic_down_to_the_bundle_digest(
    tmp_path: Path, params: ModelDefinition
) -> None:
    ts = _training_set()
    digests, metrics = [], []
    for attempt in range(2):
        model = train_model(training_set=ts, definition=params, label=_label(ts))
        bundle = make_bundle(model=model, training_set=ts, definition=params)
        digests.append(save_bundle(bundle, directory=tmp_path / f"b{attempt}"))
        _, holdout, _ = split_by_time(ts, holdout_fraction=params.data.holdout_fraction)
        evaluation = evaluate_model(
            estimator=model.estimator, holdout=holdout, features=model.features,
            label="label", split=model.split, definition=params, classes=model.classes,
        )  # fmt: skip
        metrics.append(evaluation.metrics)
    assert digests[0] == digests[1]
    assert metrics[0] == metrics[1]
    loaded = load_bundle(directory=tmp_path / "b0")
    assert loaded.features == ["x1", "x2", "segment", "distance"]
    assert loaded.metadata["request_fields"] == ["distance"]
    assert loaded.metadata["data_hash"] == ts.data_hash
    assert (loaded.task, loaded.classes, loaded.threshold) == (Task.BINARY, [0, 1], 0.5)
    assert "run_id" not in loaded.metadata
    # The bundle scores rows with an unseen category and a missing one.
    rows = ts.frame[loaded.features].head(3).copy()
    rows.loc[rows.index[0], "segment"] = "vip"
    rows.loc[rows.index[1], "segment"] = None
    assert loaded.estimator.predict_proba(rows).shape == (3, 2)


def test_evaluation_report_and_plots(tmp_path: Path, params: ModelDefinition) -> None:
    ts = _training_set()
    model = train_model(training_set=ts, definition=params, label=_label(ts))
    _, holdout, split = split_by_time(ts, holdout_fraction=0.2)
    evaluation = evaluate_model(
        estimator=model.estimator, holdout=holdout, features=model.features,
        label="label", split=split, definition=params, classes=model.classes,
    )  # fmt: skip
    assert evaluation.metrics["roc_auc"] > 0.7
    assert set(evaluation.metrics) == {
        "roc_auc", "pr_auc", "log_loss", "brier", "ece", "precision", "recall", "f1", "accuracy",
        "precision_macro", "recall_macro", "f1_macro",
    }  # fmt: skip
    assert set(evaluation.per_class) == {"0", "1"}
    assert evaluation.per_class["1"]["recall"] == evaluation.metrics["recall"]
    assert sum(map(sum, evaluation.matrix)) == split.holdout_rows
    assert sum(b.count for b in evaluation.calibration) == split.holdout_rows
    assert len(evaluation.calibration) == params.evaluate.calibration_bins
    assert {i.feature for i in evaluation.importance} == set(model.features)
    path = write_evaluation(evaluation, out_dir=tmp_path, extra={"lineage": {"x": 1}})
    doc = json.loads(path.read_text())
    assert doc["metrics"] == evaluation.metrics
    assert doc["lineage"] == {"x": 1}
    assert doc["split"]["holdout_rows"] == split.holdout_rows
    written = write_plots(evaluation, out_dir=tmp_path / "plots")
    assert [p.name for p in written] == list(plot_files(Task.BINARY))
    for png in written:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_score_known_values() -> None:
    labels = [0, 0, 1, 1]
    perfect = score(labels, [0.1, 0.2, 0.8, 0.9], threshold=0.5, bins=10)
    assert perfect.metrics["roc_auc"] == 1.0
    assert perfect.metrics["f1"] == 1.0
    assert perfect.confusion == {"tp": 2, "fp": 0, "tn": 2, "fn": 0}
    # ECE: bins at 0.1, 0.2, 0.8, 0.9 hold one row each -> mean |p - y| = 0.15
    assert perfect.metrics["ece"] == pytest.approx(0.15)
    inverted = score(labels, [0.9, 0.8, 0.2, 0.1], threshold=0.5, bins=5)
    assert inverted.metrics["roc_auc"] == 0.0
    assert inverted.metrics["precision"] == 0.0
    with pytest.raises(PipelineError, match="single label class"):
        score([1, 1], [0.5, 0.6], threshold=0.5, bins=5)


def test_training_set_round_trip(tmp_path: Path) -> None:
    ts = _training_set(rows=300)
    save_training_set(ts, directory=tmp_path)
    loaded = load_training_set(directory=tmp_path)
    assert loaded.data_hash == ts.data_hash
    assert loaded.info == ts.info
    pd.testing.assert_frame_equal(loaded.frame, ts.frame)
    frame = pd.read_parquet(tmp_path / "training_set.parquet")
    frame.loc[0, "x1"] = 99.0
    frame.to_parquet(tmp_path / "training_set.parquet")
    with pytest.raises(PipelineError, match="does not match"):
        load_training_set(directory=tmp_path)


def test_new_version_and_git_sha(tmp_path: Path, params: ModelDefinition) -> None:
    record = new_version(
        definition=params, artifact_digest="sha256:" + "0" * 64, metrics={"roc_auc": 0.8},
        data_hash="sha256:1", features=["a"], run_id="r", git_commit="abc",
    )  # fmt: skip
    assert record.feature_service == "driver_ranking_v1"
    assert record.task == Task.BINARY
    assert record.params["train"]["hyperparameters"]["max_iter"] == 40
    assert "sagemaker" not in record.params
    assert git_sha(cwd=tmp_path) == "unknown"  # not a git work tree
    sha = git_sha(cwd=Path(__file__).parent)
    assert sha == "unknown" or len(sha) == 40
