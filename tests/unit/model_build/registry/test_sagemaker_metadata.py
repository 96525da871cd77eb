"""Lineage encoding for SageMaker CustomerMetadataProperties (limits moto does not check)."""

from __future__ import annotations

import json
import re

import pytest

from model_build.errors import RegistryError
from model_build.registry import NewVersion
from model_build.registry import sagemaker_metadata as meta

ALLOWED = re.compile(r"^[A-Za-z0-9 _.:/=+\-@]+$")


@pytest.mark.parametrize(
    "text",
    [
        "sha256:" + "a" * 64,
        "plain words and digits 123",
        "x" * 256,
        "x" * 257,
        '{"json": ["needs", "encoding"]}',
        "ünïcödé ✓ and\nnewlines\ttabs",
        json.dumps({f"k{i}": list(range(i)) for i in range(60)}),
    ],
)
def test_fields_round_trip_through_allowed_entries(text: str) -> None:
    props = meta.encode_properties({"field": text, "other": "kept"})
    for key, value in props.items():
        assert len(key) <= meta.MAX_KEY_CHARS
        assert 1 <= len(value) <= meta.MAX_VALUE_CHARS
        assert ALLOWED.match(value), value
    assert meta.decode_properties(props) == {"field": text, "other": "kept"}


def test_plain_text_stays_readable_and_empty_fields_are_left_out() -> None:
    props = meta.encode_properties({"git_sha": "abc123", "run_id": ""})
    assert props == {"slipway.format": "1", "slipway.git_sha": "abc123"}


def test_foreign_keys_are_ignored_and_missing_chunks_detected() -> None:
    props = meta.encode_properties({"features": json.dumps(["a"] * 200)})
    assert meta.decode_properties({**props, "team": "ranking"}).keys() == {"features"}
    broken = {k: v for k, v in props.items() if not k.endswith(".b64.1")}
    with pytest.raises(RegistryError, match="chunks missing"):
        meta.decode_properties(broken)


def test_check_limits() -> None:
    meta.check_limits({"slipway.a": "b"})
    with pytest.raises(RegistryError, match="allows 50"):
        meta.check_limits({f"k{i}": "v" for i in range(51)})
    with pytest.raises(RegistryError, match="rules"):
        meta.check_limits({"k": "{bad}"})


def test_version_fields_are_exact_json() -> None:
    new = NewVersion(
        model_name="m",
        artifact_digest="sha256:00",
        metrics={"a": 0.1 + 0.2},
        params={"z": 1, "a": {"nested": [1, 2]}},
        feature_service="fs",
        features=["b", "a"],
    )
    fields = meta.version_fields(new)
    assert json.loads(fields["metrics"]) == {"a": 0.1 + 0.2}
    assert list(json.loads(fields["params"])) == ["z", "a"]
    assert json.loads(fields["features"]) == ["b", "a"]


@pytest.mark.parametrize(
    ("model", "group"),
    [("driver_ranking", "driver-ranking"), ("churn", "churn"), ("a--b_c", "a--b-c")],
)
def test_group_names(model: str, group: str) -> None:
    assert meta.group_name(model) == group
    description = {"ModelPackageGroupDescription": meta.group_description(model)}
    assert meta.owner_of_group({"ModelPackageGroupName": group, **description}) == model
    assert meta.is_slipway_group(description)


def test_foreign_groups_belong_to_their_own_name() -> None:
    group = {"ModelPackageGroupName": "churn", "ModelPackageGroupDescription": "made by hand"}
    assert meta.owner_of_group(group) == "churn"
    assert not meta.is_slipway_group(group)


@pytest.mark.parametrize("model", ["ends_", "x" * 64])
def test_impossible_group_names(model: str) -> None:
    with pytest.raises(RegistryError, match="group name"):
        meta.group_name(model)


def test_sanitize_text() -> None:
    assert meta.sanitize_text("a\nb\tc — ok!") == "a b c — ok!"
    assert len(meta.sanitize_text("x" * 2000)) == 1024
