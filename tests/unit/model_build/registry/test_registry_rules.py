"""Status transitions, input checks and metric comparison shared by every registry."""

from __future__ import annotations

import itertools

import pytest

from model_build.errors import InvalidTransitionError, RegistryError
from model_build.registry import ApprovalStatus, NewVersion
from model_build.registry.compare import compare_metrics
from model_build.registry.rules import check_transition, validate_new_version

A, P, R = ApprovalStatus.APPROVED, ApprovalStatus.PENDING, ApprovalStatus.REJECTED
# (current, target) -> needs force? None: never allowed.
EXPECTED = {
    (P, A): False,
    (P, R): False,
    (A, R): False,
    (R, A): True,
    (A, P): None,
    (R, P): None,
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product([P, A, R], repeat=2)))
@pytest.mark.parametrize("force", [False, True])
def test_transition_table(current: ApprovalStatus, target: ApprovalStatus, force: bool) -> None:
    if current == target:
        assert check_transition(ref="m:1", current=current, target=target, force=force) is False
        return
    needs_force = EXPECTED[(current, target)]
    if needs_force is None or (needs_force and not force):
        with pytest.raises(InvalidTransitionError, match="m:1"):
            check_transition(ref="m:1", current=current, target=target, force=force)
    else:
        assert check_transition(ref="m:1", current=current, target=target, force=force) is True


def _new(**changes: object) -> NewVersion:
    fields: dict[str, object] = {
        "model_name": "m",
        "artifact_digest": "sha256:00",
        "metrics": {"roc_auc": 0.5},
        "feature_service": "fs",
        "features": ["x"],
    }
    return NewVersion.model_validate({**fields, **changes})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_metrics_are_refused(value: float) -> None:
    with pytest.raises(RegistryError, match="roc_auc"):
        validate_new_version(_new(metrics={"roc_auc": value, "ok": 1.0}))


def test_params_must_be_plain_json() -> None:
    validate_new_version(_new(params={"a": [1, {"b": None}], "c": "d"}))
    with pytest.raises(RegistryError, match="plain JSON"):
        validate_new_version(_new(params={"when": object()}))
    with pytest.raises(RegistryError, match="plain JSON"):
        validate_new_version(_new(params={"x": float("nan")}))


def test_compare_marks_better_and_worse_by_direction() -> None:
    a = {"roc_auc": 0.80, "log_loss": 0.40, "brier": 0.20, "ece": 0.05, "pr_auc": 0.5, "old": 1.0}
    b = {"roc_auc": 0.85, "log_loss": 0.45, "brier": 0.10, "ece": 0.05, "pr_auc": 0.4, "new": 2.0}
    rows = {row.name: row for row in compare_metrics(a, b)}
    assert list(rows) == ["roc_auc", "log_loss", "brier", "ece", "pr_auc", "old", "new"]
    assert rows["roc_auc"].verdict == "better"
    assert rows["roc_auc"].delta == pytest.approx(0.05)
    assert rows["log_loss"].verdict == "worse"
    assert rows["log_loss"].lower_is_better
    assert rows["brier"].verdict == "better"
    assert rows["ece"].verdict == "same"
    assert rows["pr_auc"].verdict == "worse"
    assert (rows["old"].verdict, rows["old"].b, rows["old"].delta) == ("only in A", None, None)
    assert (rows["new"].verdict, rows["new"].a) == ("only in B", None)


def test_registry_modules_load_no_heavy_library() -> None:
    """``slipway models`` starts fast: no registry module imports pandas, sklearn, boto3 or YAML."""
    import subprocess
    import sys

    modules = ["protocol", "local", "sagemaker", "sagemaker_metadata", "groups", "rules"]
    modules += ["compare", "factory"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module('model_build.registry.' + name)\n"
        "heavy = {'pandas', 'numpy', 'sklearn', 'boto3', 'botocore', 'yaml', 'joblib'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
