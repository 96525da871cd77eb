"""Byte-level agreement with Feast: entity keys, stored values, timestamps, UDF outputs."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from feast.feature_server_utils import _timestamp_to_str, _value_to_native
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from services.feature_server.coercion import CoercionError, coerce_keys, coerce_request_value
from services.feature_server.encoding import (
    KEY_ENCODERS,
    EntityValueError,
    decode_value,
    feast_entity_key,
    key_prefix,
    python_value,
    serialization_order,
    to_json_values,
)
from services.feature_server.timestamps import format_redis_ts, format_sqlite_ts, format_timestamp

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
NAMES = st.text(min_size=1, max_size=12)


def _fast_key(keys: list[str], values: list[object], types: list[ValueType]) -> bytes:
    order = serialization_order(keys)
    by_key = dict(zip(keys, zip(values, types, strict=True), strict=True))
    return key_prefix(order) + b"".join(KEY_ENCODERS[by_key[k][1]](by_key[k][0]) for k in order)


def _feast_key(keys: list[str], values: list[object], types: list[ValueType]) -> bytes:
    protos = [python_values_to_proto_values([v], t)[0] for v, t in zip(values, types, strict=True)]
    return bytes(
        serialize_entity_key(
            EntityKey(join_keys=keys, entity_values=protos), entity_key_serialization_version=3
        )
    )


@settings(max_examples=200, deadline=None)
@given(value=INT64)
def test_int64_key_matches_feast(value: int) -> None:
    assert _fast_key(["driver_id"], [value], [ValueType.INT64]) == _feast_key(
        ["driver_id"], [value], [ValueType.INT64]
    )


@settings(max_examples=100, deadline=None)
@given(value=st.text(max_size=20), key=NAMES)
def test_string_key_matches_feast(value: str, key: str) -> None:
    assert _fast_key([key], [value], [ValueType.STRING]) == _feast_key(
        [key], [value], [ValueType.STRING]
    )


@settings(max_examples=100, deadline=None)
@given(
    a=INT32,
    b=st.text(max_size=10),
    c=INT64,
    names=st.lists(NAMES, min_size=3, max_size=3, unique=True),
)
def test_composite_key_matches_feast(a: int, b: str, c: int, names: list[str]) -> None:
    types = [ValueType.INT32, ValueType.STRING, ValueType.INT64]
    assert _fast_key(names, [a, b, c], types) == _feast_key(names, [a, b, c], types)


def test_feast_entity_key_is_feasts_function() -> None:
    assert feast_entity_key(["driver_id"], [1001], [ValueType.INT64], version=3) == _feast_key(
        ["driver_id"], [1001], [ValueType.INT64]
    )


@pytest.mark.parametrize(
    ("vtype", "value"),
    [
        (ValueType.INT64, "1001"),
        (ValueType.INT64, 1001.0),
        (ValueType.INT64, True),
        (ValueType.INT64, None),
        (ValueType.INT64, 2**63),
        (ValueType.INT32, 2**31),
        (ValueType.STRING, 5),
        (ValueType.UNIX_TIMESTAMP, "2026-01-01"),
    ],
)
def test_key_encoders_reject_wrong_types(vtype: ValueType, value: object) -> None:
    with pytest.raises(EntityValueError):
        KEY_ENCODERS[vtype](value)


VALUES = [
    Value(),
    Value(int64_val=7),
    Value(int32_val=-3),
    Value(float_val=0.1),
    Value(double_val=2.5),
    Value(double_val=float("nan")),
    Value(double_val=float("inf")),
    Value(float_val=float("-inf")),
    Value(string_val="plus"),
    Value(bool_val=True),
    Value(bytes_val=b"\x00\xff"),
    Value(unix_timestamp_val=1_790_000_000),
    Value(double_list_val={"val": [1.0, float("nan")]}),
    Value(int64_list_val={"val": [1, 2]}),
    Value(string_list_val={"val": ["a", "b"]}),
]


@pytest.mark.parametrize("proto", VALUES, ids=lambda v: v.WhichOneof("val") or "empty")
def test_decode_value_matches_feast_server(proto: Value) -> None:
    raw = proto.SerializeToString()
    assert decode_value(raw) == _value_to_native(proto)
    assert decode_value(raw) == _value_to_native(proto)  # served from the cache


def test_decode_value_of_missing_bytes_is_null() -> None:
    assert decode_value(None) is None
    assert decode_value(b"") is None


def test_python_value_keeps_nan_as_float() -> None:
    raw = Value(double_val=float("nan")).SerializeToString()
    assert math.isnan(python_value(raw, ValueType.DOUBLE))
    assert python_value(Value(float_val=0.5).SerializeToString(), ValueType.FLOAT) == 0.5
    assert python_value(None, ValueType.FLOAT) is None
    stamp = python_value(Value(unix_timestamp_val=60).SerializeToString(), ValueType.UNIX_TIMESTAMP)
    assert stamp == datetime(1970, 1, 1, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "vtype"),
    [
        ([0.5, 3, None, 1e-7], ValueType.DOUBLE),
        ([0.1, 2, None], ValueType.FLOAT),
        ([1, None, -5], ValueType.INT64),
        (["a", None], ValueType.STRING),
        ([True, None, False], ValueType.BOOL),
        ([True, 0.25], ValueType.FLOAT),  # Feast coerces the bool; the fallback path does too
    ],
)
def test_udf_outputs_match_feast_conversion(values: list[object], vtype: ValueType) -> None:
    expected = [_value_to_native(p) for p in python_values_to_proto_values(list(values), vtype)]
    assert to_json_values(values, vtype) == expected


def test_non_finite_udf_outputs_become_protobuf_json_strings() -> None:
    values = [float("nan"), float("inf"), float("-inf")]
    assert to_json_values(values, ValueType.DOUBLE) == ["NaN", "Infinity", "-Infinity"]


@settings(max_examples=200, deadline=None)
@given(
    seconds=st.integers(min_value=0, max_value=4_000_000_000),
    nanos=st.sampled_from([0, 1_000_000, 250_000_000, 123_000, 7, 999_999_999]),
)
def test_timestamp_format_matches_feast_server(seconds: int, nanos: int) -> None:
    assert format_timestamp(seconds, nanos) == _timestamp_to_str(
        Timestamp(seconds=seconds, nanos=nanos)
    )


def test_sqlite_timestamps_are_epoch_seconds() -> None:
    assert format_sqlite_ts(1_793_487_600) == "2026-10-31T23:00:00Z"
    assert format_sqlite_ts(None) == "1970-01-01T00:00:00Z"
    assert format_sqlite_ts("2026-10-31T23:00:00.250000") == "2026-10-31T23:00:00.250Z"


def test_redis_timestamps_round_like_feasts_reader() -> None:
    raw = Timestamp(seconds=1_793_487_600, nanos=123_456_789).SerializeToString()
    # Feast: datetime.fromtimestamp(seconds + nanos / 1e9) -> microseconds
    assert format_redis_ts(raw) == "2026-10-31T23:00:00.123457Z"
    assert format_redis_ts(None) == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("value", "vtype", "expected"),
    [
        (3, ValueType.DOUBLE, 3.0),
        (2.5, ValueType.DOUBLE, 2.5),
        (None, ValueType.DOUBLE, None),
        (4, ValueType.INT64, 4),
        ("x", ValueType.STRING, "x"),
        (True, ValueType.BOOL, True),
        ([1], ValueType.INT64_LIST, [1]),
        ("4.2", ValueType.DOUBLE, 4.2),  # Feast reads a numeric string (issue 13, fault 3)
        (math.nan, ValueType.DOUBLE, None),  # NaN and infinities are missing values
        (math.inf, ValueType.DOUBLE, None),
        (4.0, ValueType.INT64, 4),
        ("12", ValueType.INT64, 12),
        (1, ValueType.STRING, "1"),
    ],
)
def test_request_values_are_coerced(value: object, vtype: ValueType, expected: object) -> None:
    assert coerce_request_value(value, vtype) == expected


@pytest.mark.parametrize(
    ("value", "vtype"),
    [
        ("far", ValueType.DOUBLE),
        (True, ValueType.DOUBLE),
        (1.5, ValueType.INT64),
        (1.5, ValueType.STRING),
        (2**63, ValueType.INT64),
    ],
)
def test_request_values_of_wrong_type_are_refused(value: object, vtype: ValueType) -> None:
    with pytest.raises(EntityValueError):
        coerce_request_value(value, vtype)


@pytest.mark.parametrize(
    ("values", "vtype", "expected"),
    [
        (["1001", 1001.0, 7, " 12 "], ValueType.INT64, [1001, 1001, 7, 12]),
        ([1, "a"], ValueType.STRING, ["1", "a"]),
        ([2**31 - 1], ValueType.INT32, [2**31 - 1]),
    ],
)
def test_keys_are_coerced_as_feast_coerces_them(
    values: list[object], vtype: ValueType, expected: list[object]
) -> None:
    """What Feast's ``python_values_to_proto_values`` makes of each value, we make too."""
    assert coerce_keys(values, vtype) == expected
    feasts = python_values_to_proto_values(values, vtype)
    field = "string_val" if vtype == ValueType.STRING else f"{vtype.name.lower()}_val"
    assert [getattr(p, field) for p in feasts] == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "got null"),
        (True, "got the boolean true"),
        (1001.5, "with a fraction (Feast would truncate it)"),
        (math.nan, "got NaN"),
        (math.inf, "got Infinity"),
        ("abc", "got the string 'abc'"),
        (2**70, "1180591620717411303424 is outside the INT64 range"),
        ("99999999999999999999", "99999999999999999999 is outside the INT64 range"),
        ([1], "got a list"),
    ],
)
def test_keys_feast_answers_wrongly_are_refused_naming_the_row(
    value: object, fragment: str
) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_keys([1001, value], ValueType.INT64)
    assert caught.value.row == 1
    assert fragment in str(caught.value)
