"""Editing the model block keeps every other byte of the manifest."""

from __future__ import annotations

import difflib

import pytest
from ci_support import MANIFESTS

from ci.errors import ManifestEditError
from ci.steps.manifest_edit import set_model
from model_deploy.manifest.loader import parse_manifest
from model_deploy.manifest.model import ModelRef

V2 = ModelRef(
    registry="local", name="driver_ranking", version=2, feature_service="driver_ranking_v1"
)


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0):
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:])
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
    return removed, added


def test_bumping_the_version_changes_one_value_and_keeps_its_aligned_comment() -> None:
    text = (MANIFESTS / "dev" / "driver_ranking.yaml").read_text()
    after = set_model(text, V2, source="dev.yaml")
    removed, added = changed_lines(text, after)
    assert removed == [
        '  version: 1                        # pinned registry version, never "latest"'
    ]
    assert added == [
        '  version: 2                        # pinned registry version, never "latest"'
    ]
    assert parse_manifest(text=after, source="dev.yaml", expected_env="dev").manifest.model == V2


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_null_model_becomes_a_block_and_every_comment_stays(env: str) -> None:
    text = (MANIFESTS / env / "driver_ranking.yaml").read_text()
    after = set_model(text, V2, source=f"{env}.yaml")
    removed, added = changed_lines(text, after)
    assert removed == ["model: null"]
    assert added == [
        "model:",
        "  registry: local",
        "  name: driver_ranking",
        "  version: 2",
        "  feature_service: driver_ranking_v1",
    ]
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in after.splitlines() if line.lstrip().startswith("#")] == comments
    loaded = parse_manifest(text=after, source=f"{env}.yaml", expected_env=env)
    assert loaded.manifest.model == V2


def test_back_to_null_keeps_the_comments_after_the_block() -> None:
    text = (MANIFESTS / "dev" / "driver_ranking.yaml").read_text()
    after = set_model(text, None, source="dev.yaml")
    assert "model: null\n\n# Where it runs:" in after
    removed, added = changed_lines(text, after)
    assert added == ["model: null"]
    assert len(removed) == 5
    assert parse_manifest(text=after, source="dev.yaml", expected_env="dev").manifest.model is None


def test_round_trip_restores_the_original_bytes() -> None:
    for env in ("staging", "prod"):
        text = (MANIFESTS / env / "driver_ranking.yaml").read_text()
        assert set_model(set_model(text, V2, source=env), None, source=env) == text


def test_same_model_is_a_no_op() -> None:
    text = (MANIFESTS / "dev" / "driver_ranking.yaml").read_text()
    current = parse_manifest(text=text, source="dev.yaml", expected_env="dev").manifest.model
    assert set_model(text, current, source="dev.yaml") == text


def test_flow_style_and_missing_registry_are_handled() -> None:
    flow = "environment: x\nmodel: {name: m, version: 1, feature_service: f}  # pinned\ntarget: 1\n"
    after = set_model(flow, V2, source="x.yaml")
    assert after.splitlines()[1] == "model:  # pinned"
    no_registry = (
        "environment: x\nmodel:\n    name: m\n    version: 1\n    feature_service: f\nk: 1\n"
    )
    after = set_model(no_registry, V2, source="x.yaml")
    assert after == (
        "environment: x\nmodel:\n    name: driver_ranking\n    version: 2\n"
        "    feature_service: driver_ranking_v1\nk: 1\n"
    )
    sagemaker = V2.model_copy(update={"registry": "sagemaker"})
    assert "    registry: sagemaker\n" in set_model(no_registry, sagemaker, source="x.yaml")


def test_crlf_and_missing_final_newline_are_kept() -> None:
    text = "environment: x\r\nmodel: null\r\ntarget: 1"
    after = set_model(text, V2, source="x.yaml")
    assert after.endswith("target: 1")
    assert "\r\n  version: 2\r\n" in after


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("environment: x\ntarget: 1\n", "no top-level `model` key"),
        ("- a\n- b\n", "no top-level `model` key"),
        ("model: [\n", "not valid YAML"),
    ],
)
def test_unsafe_inputs_are_refused(text: str, message: str) -> None:
    with pytest.raises(ManifestEditError, match=message):
        set_model(text, V2, source="x.yaml")
