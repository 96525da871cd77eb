"""Manifests: checked-in files, JSON Schema sync, a malformed-manifest corpus (100 % rejected)."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from model_deploy.errors import ManifestError
from model_deploy.manifest import load_manifest, parse_manifest
from model_deploy.manifest.schema import SCHEMA_PATH, manifest_json_schema, render_schema
from model_deploy.manifest.sources import ManifestFolder, conflicts

ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENTS = ROOT / "model_deploy" / "environments"
SOURCE = "envs/prod.yaml"

VALID: dict[str, Any] = {
    "environment": "prod",
    "description": "production",
    "model": {
        "registry": "sagemaker",
        "name": "driver_ranking",
        "version": 3,
        "feature_service": "driver_ranking_v1",
    },
    "target": {
        "kind": "sagemaker",
        "endpoint_name": "slipway-prod",
        "instance_type": "ml.m5.large",
        "autoscaling": {"min_capacity": 1, "max_capacity": 4},
        "instance_count": 2,
        "execution_role_arn": "arn:aws:iam::123456789012:role/sm",
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway:1",
    },
    "data_capture": {"sampling_percentage": 20, "destination": "s3://bucket/capture"},
    "strategy": {"type": "canary", "percent": 10, "bake_minutes": 5.0},
    "rollback_alarms": ["prod-5xx", "prod-latency"],
    "smoke_tests": [
        {
            "name": "one row",
            "instances": [{"conv_rate": 0.5, "segment": "plus"}],
            "expect": {"probability": {"min": 0.0, "max": 1.0}, "label": 1},
        }
    ],
    "policy": {"thresholds": {"roc_auc": {"min": 0.7}, "log_loss": {"max": 0.6}}},
    "freeze_windows": [
        {"start": "2026-12-20T00:00:00Z", "end": "2027-01-02T00:00:00Z", "reason": "holidays"}
    ],
}

# Mappings whose keys are data, not fields: adding a key there is not an error.
FREE_MAPPINGS = {("policy", "thresholds")}


def dump(data: Any) -> str:
    """Block-style YAML, as ruamel's default dumper writes it, by libyaml (14x faster).

    The generated corpus dumps one mutated manifest per example; ruamel's pure-Python emitter
    was a third of each example's time. :func:`test_fast_dump_writes_what_ruamel_writes`
    checks the two agree.
    """
    return yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True)


def ruamel_dump(data: Any) -> str:
    stream = io.StringIO()
    YAML().dump(data, stream)
    return stream.getvalue()


def dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def get_at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every field value (not inside free-form smoke rows)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        if path[-1:] == ("instances",) or (len(path) >= 2 and path[-2] == "instances"):
            return found
        for key, value in data.items():
            found.append((*path, key))
            found += leaves(value, (*path, key))
    elif isinstance(data, list) and path[-1:] != ("instances",):
        for index, value in enumerate(data):
            found += leaves(value, (*path, index))
    return found


def mappings(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        if path not in FREE_MAPPINGS and "instances" not in path:
            found.append(path)
        for key, value in data.items():
            found += mappings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += mappings(value, (*path, index))
    return found


LEAVES = [p for p in leaves(VALID) if p[-1] != "instances" or True]
#: Leaves of one type (a smoke test's ``label`` is a number or a text: its own test below).
SCALAR_LEAVES = [
    p for p in LEAVES if not isinstance(get_at(VALID, p), dict | list) and p[-1] != "label"
]
MAPPINGS = mappings(VALID)


def wrong_values(original: Any) -> list[Any]:
    """Values of a type the field never accepts."""
    if isinstance(original, bool):
        return ["yes", 3, [1]]
    if isinstance(original, int):
        return ["three", 2.5, 2.0, True, [1], {"a": 1}]
    if isinstance(original, float):
        return ["half", True, [0.5], {"a": 1}]
    if isinstance(original, str):
        return [7, 1.5, True, ["x"], {"a": "b"}]
    return ["text", 5]


def assert_rejected(text: str, *, field: str | None, key_on_line: str | None = None) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text=text, source=SOURCE, expected_env="prod")
    error = caught.value
    assert all(issue.file == SOURCE for issue in error.issues)
    assert SOURCE in str(error)
    fields = [issue.field for issue in error.issues]
    if field is not None:
        assert field in fields, (field, str(error))
        issue = error.issues[fields.index(field)]
        assert issue.line is not None, str(error)
        assert f"{SOURCE}:{issue.line}: {field}" in str(error)
        if key_on_line:
            assert key_on_line in text.splitlines()[issue.line - 1], (issue.line, str(error))


# -- checked-in files and schema ---------------------------------------------------------------


CHECKED_IN = [
    f"{env}/{model}"
    for env in ("dev", "staging", "prod")
    for model in ("driver_ranking", "trip_fare")
]


@pytest.mark.parametrize("key", CHECKED_IN)
def test_checked_in_manifests_load(key: str) -> None:
    env, model = key.split("/")
    loaded = ManifestFolder(ENVIRONMENTS).load(key)
    assert loaded.env == env
    assert loaded.key == key
    assert loaded.content_hash.startswith("sha256:")
    text = (ENVIRONMENTS / env / f"{model}.yaml").read_text()
    assert text.count("#") >= 5, "manifests are meant to be commented for reviewers"
    assert "\nenvironment:" not in text, "the folder is the environment"


def test_checked_in_layout_is_one_manifest_per_environment_and_model() -> None:
    folder = ManifestFolder(ENVIRONMENTS)
    assert folder.names() == CHECKED_IN
    assert folder.environments().names == ["dev", "staging", "prod"]
    assert not list(ENVIRONMENTS.glob("*.yaml")), "no manifest of the old one-file layout"
    ports = [folder.load(key).manifest.target.port for key in CHECKED_IN]  # type: ignore[union-attr]
    assert len(set(ports)) == len(ports), "one local endpoint per (environment, model)"
    assert all(conflicts(folder, key) == [] for key in CHECKED_IN)


def test_dev_pins_driver_ranking_v1_and_everything_else_starts_empty() -> None:
    folder = ManifestFolder(ENVIRONMENTS)
    dev = folder.load("dev/driver_ranking").manifest
    assert dev.model is not None
    assert dev.model.ref == "driver_ranking:1"
    for key in CHECKED_IN[1:]:
        assert folder.load(key).manifest.model is None, key


def test_checked_in_environments_turn_the_promotion_path_on() -> None:
    folder = ManifestFolder(ENVIRONMENTS)
    rules = folder.environments()
    assert rules.rules("staging").promote_from == "dev"
    assert rules.rules("prod").promote_from == "staging"
    assert rules.rules("prod").upstream == "staging"
    assert not rules.rules("dev").requires_approval
    assert rules.rules("staging").requires_approval
    assert rules.rules("prod").requires_approval
    for model in ("driver_ranking", "trip_fare"):
        prod = folder.load(f"prod/{model}").manifest
        staging = folder.load(f"staging/{model}").manifest
        assert prod.promotion is not None
        assert prod.promotion.from_env == "staging"
        assert staging.promotion is not None
        assert staging.promotion.from_env == "dev"
        assert prod.freeze_windows, "prod's freeze defaults reach every prod manifest"


def test_the_regression_manifests_expect_predictions() -> None:
    folder = ManifestFolder(ENVIRONMENTS)
    for env in ("dev", "staging", "prod"):
        manifest = folder.load(f"{env}/trip_fare").manifest
        assert manifest.smoke_tests
        for case in manifest.smoke_tests:
            assert case.expect.prediction is not None
            assert case.expect.probability is None
            assert case.expect.label is None


def test_a_smoke_label_is_a_number_or_a_text() -> None:
    for wrong in ("2.5", "true", "[1]", "{a: 1}"):
        assert_rejected(
            BASE.replace("label: 1", f"label: {wrong}"),
            field="smoke_tests[0].expect.label",
            key_on_line="label:",
        )
    parse_manifest(
        text=BASE.replace("label: 1", "label: urgent"), source=SOURCE, expected_env="prod"
    )


def test_the_environment_is_the_folder_and_a_lone_text_must_name_it() -> None:
    text = BASE.replace("environment: prod\n", "")
    assert parse_manifest(text=text, source=SOURCE, expected_env="prod").env == "prod"
    with pytest.raises(ManifestError, match="environment: required field is missing"):
        parse_manifest(text=text, source=SOURCE)


def test_fast_dump_writes_what_ruamel_writes() -> None:
    assert dump(VALID) == ruamel_dump(VALID)
    mutated = copy.deepcopy(VALID)
    mutated["model"]["x_é"] = "ü"
    mutated["target"]["instance_count"] = -(10**30)
    assert dump(mutated) == ruamel_dump(mutated)


def test_json_schema_file_is_in_sync() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "model_deploy/manifest.schema.json is stale: run `python -m model_deploy.manifest.schema`"
    )


def test_json_schema_forbids_unknown_keys_everywhere() -> None:
    schema = manifest_json_schema()
    assert schema["additionalProperties"] is False
    for name, definition in schema["$defs"].items():
        if definition.get("type") == "object" and "properties" in definition:
            assert definition.get("additionalProperties") is False, name


def test_valid_corpus_base_and_hash_ignores_comments_and_layout() -> None:
    text = dump(VALID)
    first = parse_manifest(text=text, source=SOURCE, expected_env="prod")
    commented = "# a comment\n" + text.replace("environment: prod", "environment: prod  # env")
    second = parse_manifest(text=commented, source=SOURCE, expected_env="prod")
    assert first.content_hash == second.content_hash
    as_json = parse_manifest(text=json.dumps(VALID), source=SOURCE, expected_env="prod")
    assert as_json.content_hash == first.content_hash


# -- hand-made corpus ---------------------------------------------------------------------------

BASE = dump(VALID)

HAND_CORPUS: list[tuple[str, str, str | None, str | None]] = [
    ("unknown top key", BASE + "replicas: 3\n", "replicas", "replicas:"),
    ("typo", BASE.replace("rollback_alarms:", "rollback_alarm:"), "rollback_alarm", None),
    ("version string", BASE.replace("version: 3", "version: '3'"), "model.version", "version:"),
    ("version zero", BASE.replace("version: 3", "version: 0"), "model.version", "version:"),
    ("version float", BASE.replace("version: 3", "version: 3.5"), "model.version", "version:"),
    ("version latest", BASE.replace("version: 3", "version: latest"), "model.version", None),
    ("version bool", BASE.replace("version: 3", "version: true"), "model.version", None),
    (
        "negative count",
        BASE.replace("instance_count: 2", "instance_count: -2"),
        "target.instance_count",
        "instance_count:",
    ),
    (
        "count out of autoscaling bounds",
        BASE.replace("instance_count: 2", "instance_count: 9"),
        "target.instance_count",
        "instance_count:",
    ),
    (
        "max below min",
        BASE.replace("max_capacity: 4", "max_capacity: 0"),
        "target.autoscaling.max_capacity",
        "max_capacity:",
    ),
    ("bad kind", BASE.replace("kind: sagemaker", "kind: k8s"), "target.kind", "kind:"),
    (
        "bad instance type",
        BASE.replace("ml.m5.large", "m5.large"),
        "target.instance_type",
        "instance_type:",
    ),
    ("canary 100", BASE.replace("percent: 10", "percent: 100"), "strategy.percent", "percent:"),
    (
        "bake too long",
        BASE.replace("bake_minutes: 5.0", "bake_minutes: 600"),
        "strategy.bake_minutes",
        None,
    ),
    (
        "capture over 100",
        BASE.replace("sampling_percentage: 20", "sampling_percentage: 120"),
        "data_capture.sampling_percentage",
        "sampling_percentage:",
    ),
    ("missing model", BASE.replace("model:\n", "modell:\n"), "model", None),
    (
        "label outside its labels",
        dump(
            {
                **VALID,
                "smoke_tests": [
                    {**VALID["smoke_tests"][0], "expect": {"label": 2, "labels": [0, 1]}}
                ],
            }
        ),
        "smoke_tests[0].expect",
        "expect:",
    ),
    (
        "freeze without zone",
        BASE.replace("2026-12-20T00:00:00Z", "2026-12-20"),
        "freeze_windows[0].start",
        None,
    ),
    ("threshold typo", BASE.replace("min: 0.7", "minimum: 0.7"), None, None),
    ("duplicate alarm", BASE.replace("- prod-latency", "- prod-5xx"), "rollback_alarms", None),
    ("wrong env", BASE.replace("environment: prod", "environment: dev"), "environment", None),
    ("nan threshold", BASE.replace("min: 0.7", "min: .nan"), None, None),
    (
        "empty smoke rows",
        BASE.replace("- conv_rate: 0.5", "- {}\n      - conv_rate: 0.5"),
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("text", "field", "key_on_line"),
    [pytest.param(t, f, k, id=name) for name, t, f, k in HAND_CORPUS],
)
def test_hand_corpus_is_rejected_naming_file_field_and_line(
    text: str, field: str | None, key_on_line: str | None
) -> None:
    assert_rejected(text, field=field, key_on_line=key_on_line)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("", None, id="empty"),
        pytest.param("# just a comment\n", None, id="only comments"),
        pytest.param("---\n", None, id="empty document"),
        pytest.param("- a\n- b\n", 1, id="a list"),
        pytest.param("just text", 1, id="a scalar"),
        pytest.param("environment: prod\nmodel: [1, 2\n", 3, id="unclosed flow"),
        pytest.param("environment: prod\n\tmodel: null\n", 2, id="tab"),
        pytest.param("a: 1\na: 2\n", 2, id="duplicate key"),
        pytest.param("environment: 'prod\n", None, id="unclosed quote"),
        pytest.param("key: *missing\n", 1, id="unknown alias"),
        pytest.param("%TAG ! tag:x\n---\n{", None, id="bad directive"),
        pytest.param("[" * 2000, None, id="deep nesting"),
    ],
)
def test_yaml_errors_and_empty_files_are_manifest_errors(text: str, line: int | None) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text=text, source=SOURCE, expected_env="prod")
    assert caught.value.file == SOURCE
    if line is not None:
        assert caught.value.line == line, str(caught.value)


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(path=tmp_path / "prod.yaml")
    (tmp_path / "prod.yaml").write_bytes(b"environment: \xff\xfe prod\n")
    with pytest.raises(ManifestError, match="not UTF-8"):
        load_manifest(path=tmp_path / "prod.yaml")


def test_unknown_key_suggests_the_closest_field() -> None:
    with pytest.raises(ManifestError, match="did you mean 'instance_type'"):
        parse_manifest(
            text=BASE.replace("instance_type:", "instance_typ:"), source=SOURCE, expected_env="prod"
        )


# -- generated corpus ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_wrong_types_are_rejected_with_field_and_line(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(SCALAR_LEAVES))
    original = get_at(VALID, path)
    value = data.draw(st.sampled_from(wrong_values(original)))
    mutated = copy.deepcopy(VALID)
    get_at(mutated, path[:-1])[path[-1]] = value
    key = path[-1] if isinstance(path[-1], str) else None
    assert_rejected(dump(mutated), field=dotted(path), key_on_line=f"{key}:" if key else None)


def assert_unknown_key_rejected(path: tuple[Any, ...], key: str, value: Any) -> None:
    mutated = copy.deepcopy(VALID)
    get_at(mutated, path)[key] = value
    assert_rejected(dump(mutated), field=dotted((*path, key)), key_on_line=f"{key}:")


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda path: dotted(path) or "top")
def test_an_unknown_key_is_rejected_in_every_mapping(path: tuple[Any, ...]) -> None:
    assert_unknown_key_rejected(path, "x_replicas", 3)


# Every mapping is covered above; random draws add key and value variety. 60, not 200: the
# rejection and its line depend on the mapping, not on the key's letters or the value's type.
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_generated_unknown_keys_are_rejected(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(MAPPINGS))
    key = "x_" + data.draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8))
    value = data.draw(st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()))
    assert_unknown_key_rejected(path, key, value)


REQUIRED = [
    ("model",),
    ("target",),
    ("model", "name"),
    ("model", "version"),
    ("model", "feature_service"),
    ("target", "endpoint_name"),
    ("target", "instance_type"),
    ("target", "instance_count"),
    ("target", "execution_role_arn"),
    ("target", "autoscaling", "min_capacity"),
    ("strategy", "percent"),
    ("strategy", "bake_minutes"),
    ("smoke_tests", 0, "name"),
    ("smoke_tests", 0, "instances"),
    ("freeze_windows", 0, "end"),
]


@pytest.mark.parametrize("path", REQUIRED, ids=dotted)
def test_missing_required_fields_are_named(path: tuple[Any, ...]) -> None:
    mutated = copy.deepcopy(VALID)
    del get_at(mutated, path[:-1])[path[-1]]
    assert_rejected(dump(mutated), field=dotted(path) if len(path) > 1 else path[0])


NUMERIC_FIELDS = {
    ("model", "version"): None,
    ("target", "instance_count"): 101,
    ("target", "autoscaling", "min_capacity"): 101,
    ("data_capture", "sampling_percentage"): 101,
    ("strategy", "percent"): 100,
    ("strategy", "bake_minutes"): 61,
}


def assert_number_rejected(path: tuple[str, ...], value: int) -> None:
    mutated = copy.deepcopy(VALID)
    get_at(mutated, path[:-1])[path[-1]] = value
    if path == ("target", "autoscaling", "min_capacity"):
        mutated["target"].pop("instance_count")  # keep the error on min_capacity alone
        mutated["target"]["instance_count"] = 1
    assert_rejected(dump(mutated), field=dotted(path), key_on_line=f"{path[-1]}:")


#: Each field's edges: -1, a negative beyond 64 bits, and (when bounded) the ceiling and 10**9.
NUMBER_EDGES = [
    (path, value)
    for path, ceiling in sorted(NUMERIC_FIELDS.items())
    for value in (-1, -(2**64), *(() if ceiling is None else (ceiling, 10**9)))
]


@pytest.mark.parametrize(
    ("path", "value"), NUMBER_EDGES, ids=[f"{dotted(p)}={v}" for p, v in NUMBER_EDGES]
)
def test_numbers_at_the_edges_are_rejected(path: tuple[str, ...], value: int) -> None:
    assert_number_rejected(path, value)


# The edges are fixed above; random values in between add variety. 60, not 200: each field's
# check is one bound, so values on the same side of it are the same case.
@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from(sorted(NUMERIC_FIELDS)), data=st.data())
def test_negative_and_too_large_numbers_are_rejected(
    path: tuple[str, ...], data: st.DataObject
) -> None:
    ceiling = NUMERIC_FIELDS[path]
    values = st.integers(max_value=-1)
    if ceiling is not None:
        values |= st.integers(min_value=ceiling, max_value=10**9)
    assert_number_rejected(path, data.draw(values))


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(BASE)),
    junk=st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
)
def test_random_text_edits_never_raise_anything_but_manifest_error(
    position: int, junk: str
) -> None:
    text = BASE[:position] + junk + BASE[position:]
    error = outcome(text)
    if error is not None:
        assert all(issue.file == SOURCE for issue in error.issues)
        assert all(issue.field or issue.message for issue in error.issues)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_but_manifest_error(text: str) -> None:
    error = outcome(text)
    if error is not None:
        assert error.file == SOURCE


def outcome(text: str) -> ManifestError | None:
    """Parse; return the ManifestError (any other exception fails the test)."""
    try:
        parse_manifest(text=text, source=SOURCE, expected_env="prod")
    except ManifestError as error:
        return error
    return None
