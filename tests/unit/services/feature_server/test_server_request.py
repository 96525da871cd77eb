"""Request parsing, plan resolution (Feast's grouping and errors) and settings."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from feast.value_type import ValueType

from foundation.settings import load_settings
from services.feature_server.encoding import key_prefix
from services.feature_server.errors import (
    ApiError,
    BadRequestError,
    NotFoundError,
    TooLargeError,
    UnsupportedMediaError,
    ValidationError,
)
from services.feature_server.plan import parse_ref, plan_for
from services.feature_server.registry import Projection, ServiceSpec, Snapshot, ViewSpec
from services.feature_server.request import check_content_type, parse_request
from services.feature_server.settings import ServerSettings


def _parse(body: Any, max_entities: int = 10) -> Any:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return parse_request(raw, max_entities=max_entities)


def test_parse_feast_request() -> None:
    req = _parse(
        {
            "features": ["v:a"],
            "entities": {"driver_id": [1, 2]},
            "full_feature_names": True,
            "unknown_field": "ignored like Feast",
        }
    )
    assert req.features == ("v:a",)
    assert req.feature_service is None
    assert req.rows == 2
    assert req.full_feature_names
    assert not req.include_metadata


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("True", True), ("1", True), ("off", False), (0, False)]
)
def test_flags_are_read_as_feast_reads_them(text: object, expected: bool) -> None:
    """Feast's pydantic model reads ``"true"`` as true (issue 13, fault 3)."""
    req = _parse({"features": ["v:a"], "entities": {"k": [1]}, "full_feature_names": text})
    assert req.full_feature_names is expected


def test_nan_infinity_and_big_integers_are_read_exactly() -> None:
    body = (
        b'{"features": ["v:a"], '
        b'"entities": {"k": [NaN, Infinity, -Infinity, 1180591620717411303424]}}'
    )
    values = parse_request(body, max_entities=10).entities["k"]
    assert math.isnan(values[0])
    assert values[1:3] == [math.inf, -math.inf]
    assert values[3] == 2**70
    assert type(values[3]) is int


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        (b"application/json", True),
        (b"application/json; charset=utf-8", True),
        (b"application/merge-patch+json", True),
        (b"text/plain", False),
        (b"application/x-www-form-urlencoded", False),
    ],
)
def test_content_type_must_be_json(content_type: bytes, ok: bool) -> None:
    headers = [(b"host", b"x"), (b"content-type", content_type)]
    if ok:
        check_content_type(headers)
        return
    with pytest.raises(UnsupportedMediaError) as caught:
        check_content_type(headers)
    assert caught.value.status == 415
    check_content_type([(b"host", b"x")])  # no content type at all: read as JSON


def test_feature_service_wins_over_features_like_feast() -> None:
    req = _parse({"features": ["v:a"], "feature_service": "s", "entities": {"k": [1]}})
    assert req.feature_service == "s"
    assert req.features is None


@pytest.mark.parametrize(
    ("body", "error", "fragment"),
    [
        (b"{not json", BadRequestError, "not valid JSON"),
        ([1, 2], ValidationError, "JSON object"),
        ({"entities": {"k": [1]}, "features": "v:a"}, ValidationError, "'features'"),
        ({"entities": {"k": [1]}, "features": [1]}, ValidationError, "'features'"),
        ({"entities": {"k": [1]}, "feature_service": 3}, ValidationError, "'feature_service'"),
        ({"entities": {"k": [1]}, "full_feature_names": "maybe"}, ValidationError, "full_feature"),
        ({"entities": {"k": [1]}, "full_feature_names": None}, ValidationError, "full_feature"),
        (
            b'{"entities": {"k": [1]}, "x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
            BadRequestError,
            "nests deeper than 1024 levels",
        ),
        (
            b'{"entities": {"k": [1]}, "x": ' + b"[" * 900 + b"]" * 900 + b', "n": NaN',
            BadRequestError,
            "not valid JSON",
        ),
        ({"features": ["v:a"]}, ValidationError, "'entities'"),
        ({"features": ["v:a"], "entities": {}}, ValidationError, "'entities'"),
        ({"features": ["v:a"], "entities": {"k": 1}}, ValidationError, "'k' must be a list"),
        ({"features": ["v:a"], "entities": {"k": [1, 2], "j": [1]}}, ValidationError, "'j' has 1"),
        ({"features": ["v:a"], "entities": {"k": []}}, ValidationError, "empty"),
        ({"features": ["v:a"], "entities": {"k": list(range(11))}}, TooLargeError, "limit of 10"),
    ],
)
def test_parse_errors_name_the_field(body: Any, error: type[ApiError], fragment: str) -> None:
    with pytest.raises(error) as err:
        _parse(body)
    assert fragment in err.value.message


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("v:f", ("v", "f")),
        ("v@latest:f", ("v", "f")),
        ("v@:f", ("v", "f")),
        ("v:f:g", ("v", "f:g")),
    ],
)
def test_parse_ref(ref: str, expected: tuple[str, str]) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("ref", ["v", ":f", "v:", "v@v2:f"])
def test_bad_refs(ref: str) -> None:
    with pytest.raises(ValidationError):
        parse_ref(ref)


def _view(name: str, key: str, features: list[str], unservable: Any = None) -> ViewSpec:
    return ViewSpec(
        name=name,
        join_keys=(key,),
        key_order=(key,),
        key_types={key: ValueType.INT64},
        prefix=key_prefix([key]),
        fast_keys=True,
        features=tuple(features),
        feature_types=dict.fromkeys(features, ValueType.FLOAT),
        sqlite_table=f"p_{name}",
        redis_name=name,
        ttl_seconds=None,
        unservable=unservable,
        entityless=False,
        version=0,
    )


def _snapshot() -> Snapshot:
    views = {
        "drv": _view("drv", "driver_id", ["a", "b", "c"]),
        "cust": _view("cust", "customer_id", ["x", "b"]),
        "off": _view("off", "driver_id", ["z"], unservable=(422, "feature view off is disabled")),
    }
    service = ServiceSpec(
        name="svc",
        description="",
        projections=(
            Projection("cust", "cust", ("x",), {}),
            Projection("drv", "drivers", ("c", "a"), {"driver_id": "drv_id"}),
        ),
        refs=("cust:x", "drivers:c", "drivers:a"),
    )
    return Snapshot(
        project="p",
        views=views,
        odfvs={},
        services={"svc": service},
        entity_names={"driver": "driver_id", "customer": "customer_id"},
        join_keys=frozenset({"driver_id", "customer_id"}),
        key_types={"driver_id": ValueType.INT64, "customer_id": ValueType.INT64},
        request_fields=frozenset(),
        digest="x",
    )


def test_plan_groups_views_in_first_reference_order() -> None:
    plan = plan_for(
        _snapshot(),
        features=("cust:x", "drv:c", "cust:b", "drv:a"),
        service=None,
        full_feature_names=False,
    )
    assert [v.view.name for v in plan.views] == ["cust", "drv"]
    assert [v.outputs for v in plan.views] == [
        (("x", "x"), ("b", "b")),
        (("c", "c"), ("a", "a")),
    ]
    assert plan.required == {"customer_id": "cust", "driver_id": "drv"}


def test_plan_is_cached_per_snapshot() -> None:
    snapshot = _snapshot()
    first = plan_for(snapshot, features=("drv:a",), service=None, full_feature_names=True)
    assert plan_for(snapshot, features=("drv:a",), service=None, full_feature_names=True) is first
    assert first.views[0].outputs == (("a", "drv__a"),)


def test_service_projection_alias_and_join_key_map() -> None:
    plan = plan_for(_snapshot(), features=None, service="svc", full_feature_names=True)
    assert plan.service == "svc"
    drivers = plan.views[1]
    assert drivers.name == "drivers"
    assert drivers.columns == ("drv_id",)
    assert drivers.outputs == (("c", "drivers__c"), ("a", "drivers__a"))
    assert plan.required == {"customer_id": "cust", "drv_id": "drv"}


@pytest.mark.parametrize(
    ("features", "service", "error", "fragment"),
    [
        (("nope:a",), None, NotFoundError, "feature view 'nope'"),
        (("drv:nope",), None, NotFoundError, "feature 'nope' not found in feature view 'drv'"),
        (None, "nope", NotFoundError, "feature service 'nope'"),
        ((), None, ValidationError, "give 'features'"),
        (("drv:b", "cust:b"), None, ValidationError, "requested twice: b"),
        (("drv:a", "drv:a"), None, ValidationError, "requested twice: a"),
        (("off:z",), None, ApiError, "disabled"),
    ],
)
def test_plan_errors(
    features: tuple[str, ...] | None, service: str | None, error: type[ApiError], fragment: str
) -> None:
    with pytest.raises(error) as err:
        plan_for(_snapshot(), features=features, service=service, full_feature_names=False)
    assert fragment in err.value.message


def test_full_feature_names_resolve_collisions() -> None:
    plan = plan_for(
        _snapshot(), features=("drv:b", "cust:b"), service=None, full_feature_names=True
    )
    assert [o for v in plan.views for o in v.outputs] == [("b", "drv__b"), ("b", "cust__b")]


def test_settings_from_env_and_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("SLIPWAY_SERVER_FEATURE_REPO", str(tmp_path))
    monkeypatch.setenv("SLIPWAY_SERVER_MAX_ENTITIES", "5")
    monkeypatch.setenv("SLIPWAY_SERVER_FEATURE_ENV", "redis")
    settings = load_settings(ServerSettings)
    assert settings.max_entities == 5
    assert settings.feature_env == "redis"
    assert settings.api_keys_file is None
    assert settings.max_body_bytes == 1024 * 1024
    env = settings.to_env()
    assert env["SLIPWAY_SERVER_MAX_ENTITIES"] == "5"
    assert "SLIPWAY_SERVER_API_KEYS_FILE" not in env
    for name in list(env):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings(ServerSettings) == settings
