"""Byte-level encoding shared with Feast: entity keys, stored values and timestamps.

* Entity keys are serialized exactly like ``feast.infra.key_encoding_utils.serialize_entity_key``
  (version 3): a prefix that depends only on the join key names (precomputed per feature view)
  followed by the packed values. ``tests/unit/services/server`` checks the bytes against Feast's
  own function for every supported type; other versions fall back to Feast's function.
* Stored values are ``ValueProto`` bytes; they are turned into JSON values the way Feast's
  server does (``feast.feature_server_utils``): floats stay floats, NaN and infinities become
  ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, bytes become base64, missing values ``null``.
* Timestamps live in ``services.feature_server.timestamps``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

from feast.feature_server_utils import _value_to_native
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.value_type import ValueType

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_PACK_I: Final = struct.Struct("<I").pack
_PACK_INT64: Final = struct.Struct("<IIq").pack
_PACK_INT32: Final = struct.Struct("<IIi").pack
_SIMPLE: Final = frozenset(
    {"int64_val", "int32_val", "string_val", "bool_val", "unix_timestamp_val"}
)
_FLOATS: Final = frozenset({"double_val", "float_val"})
_CACHE_LIMIT: Final = 200_000

KeyEncoder = Callable[[Any], bytes]
"""Turns one validated JSON value into its packed bytes inside a serialized entity key."""


class EntityValueError(ValueError):
    """A JSON value does not fit the declared type of an entity column."""


def key_prefix(join_keys: Sequence[str]) -> bytes:
    """Serialize the join key names, as Feast does ahead of the values (version 3).

    ``join_keys`` are in serialization order (see ``serialization_order``); the result is the
    key-name part of a serialized entity key.
    """
    out = [_PACK_I(len(join_keys))]
    for name in join_keys:
        encoded = name.encode("utf8")
        out.append(_PACK_I(ValueType.STRING.value) + _PACK_I(len(encoded)) + encoded)
    return b"".join(out)


def serialization_order(join_keys: Sequence[str]) -> tuple[str, ...]:
    """Order join keys the way Feast serializes them (one key as is, several sorted)."""
    return tuple(join_keys) if len(join_keys) == 1 else tuple(sorted(join_keys))


_INT64_TYPE: Final = ValueType.INT64.value
_INT32_TYPE: Final = ValueType.INT32.value
_TS_TYPE: Final = ValueType.UNIX_TIMESTAMP.value
_STRING_HEAD: Final = _PACK_I(ValueType.STRING.value)


def _int64(value: Any) -> bytes:
    if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
        raise EntityValueError("an integer (INT64)")
    return _PACK_INT64(_INT64_TYPE, 8, value)


def _int32(value: Any) -> bytes:
    if type(value) is not int or not _INT32_MIN <= value <= _INT32_MAX:
        raise EntityValueError("an integer in the INT32 range")
    return _PACK_INT32(_INT32_TYPE, 4, value)


def _timestamp(value: Any) -> bytes:
    if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
        raise EntityValueError("an integer of epoch seconds (UNIX_TIMESTAMP)")
    return _PACK_INT64(_TS_TYPE, 8, value)


def _string(value: Any) -> bytes:
    if type(value) is not str:
        raise EntityValueError("a string")
    encoded = value.encode("utf8")
    return _STRING_HEAD + _PACK_I(len(encoded)) + encoded


KEY_ENCODERS: Final[dict[ValueType, KeyEncoder]] = {
    ValueType.INT64: _int64,
    ValueType.INT32: _int32,
    ValueType.STRING: _string,
    ValueType.UNIX_TIMESTAMP: _timestamp,
}
"""Entity key types this service takes over JSON (Feast also allows BYTES; JSON has none)."""


_KEY_TYPES: Final[dict[ValueType, type]] = {
    ValueType.INT64: int,
    ValueType.INT32: int,
    ValueType.STRING: str,
    ValueType.UNIX_TIMESTAMP: int,
}
_KEY_MEMO_LIMIT: Final = 100_000
_key_memo: dict[tuple[bytes, ValueType], dict[Any, bytes]] = {}


def encode_keys(prefix: bytes, vtype: ValueType, values: list[Any]) -> list[bytes]:
    """Serialize single-join-key entity keys, remembering the bytes of values seen before.

    A memo hit is only taken for values of the exact JSON type of the key (so ``true`` or
    ``1.0`` never borrow the key of ``1``); everything else goes through the checking encoder.

    ``prefix`` is the view's ``key_prefix``, ``vtype`` the join key's declared type (one of
    ``KEY_ENCODERS``), ``values`` the request column; one serialized key per value.

    Raises:
        EntityValueError: A value does not fit the type.
    """
    memo = _key_memo.get((prefix, vtype))
    if memo is None:
        memo = _key_memo[(prefix, vtype)] = {}
    if len(set(map(type, values))) == 1 and type(values[0]) is _KEY_TYPES[vtype]:
        encoded = list(map(memo.get, values))
        if None not in encoded:
            return encoded  # type: ignore[return-value]
    encoder = KEY_ENCODERS[vtype]
    out = [prefix + encoder(v) for v in values]
    if len(memo) + len(out) > _KEY_MEMO_LIMIT:
        memo.clear()
    memo.update(zip(values, out, strict=True))
    return out


def feast_entity_key(
    join_keys: Sequence[str],
    values: Sequence[Any],
    types: Sequence[ValueType],
    *,
    version: int,
) -> bytes:
    """Serialize one entity key with Feast's own function (the reference for the fast path).

    One JSON value and declared type per join key; ``version`` is the repo config's
    ``entity_key_serialization_version``. The result is the bytes Feast writes to (and looks
    up in) the online store.
    """
    protos = [
        python_values_to_proto_values([value], vtype)[0]
        for value, vtype in zip(values, types, strict=True)
    ]
    key = EntityKeyProto(join_keys=list(join_keys), entity_values=protos)
    return bytes(serialize_entity_key(key, entity_key_serialization_version=version))


_decoded: dict[bytes, Any] = {}


def decode_value(raw: bytes | None) -> Any:
    """Turn stored ``ValueProto`` bytes into the JSON value Feast's server would return.

    Scalar results are cached by their bytes (decoding is a pure function of them).

    ``raw`` None or empty is a missing value. The result is JSON-ready (None, bool, int,
    float, str, list or dict).
    """
    if not raw:
        return None
    cached = _decoded.get(raw, _decoded)
    if cached is not _decoded:
        return cached
    proto = ValueProto.FromString(raw)
    which = proto.WhichOneof("val")
    scalar = True
    result: Any
    if which is None or which == "null_val":
        result = None
    elif which in _SIMPLE:
        result = getattr(proto, which)
    elif which in _FLOATS:
        result = json_float(getattr(proto, which))
    else:
        result = _value_to_native(proto)
        scalar = not isinstance(result, list | dict)
    if scalar:
        if len(_decoded) >= _CACHE_LIMIT:
            _decoded.clear()
        _decoded[raw] = result
    return result


_FLOAT32_TAG: Final = 0x35  # field 6 (float_val), wire type 5: 4 bytes follow
_DOUBLE_TAG: Final = 0x29  # field 5 (double_val), wire type 1: 8 bytes follow
_column_structs: dict[tuple[int, str], struct.Struct] = {}


def _column_struct(rows: int, code: str) -> struct.Struct:
    found = _column_structs.get((rows, code))
    if found is None:
        if len(_column_structs) > 256:
            _column_structs.clear()
        found = _column_structs[(rows, code)] = struct.Struct("<" + ("x" + code) * rows)
    return found


def decode_column(raws: list[bytes | None]) -> list[Any]:
    """``decode_value`` of every cell of one column, without per-cell work for floats.

    A column of stored ``float_val`` (or ``double_val``) cells, the usual shape of a feature,
    is joined and unpacked by one ``struct`` call; anything else (nulls, integers, strings,
    lists) is decoded cell by cell through ``decode_value``'s cache. Same results as
    ``[decode_value(r) for r in raws]`` (property-tested).
    """
    rows = len(raws)
    try:
        joined = b"".join(raws)  # type: ignore[arg-type]
    except TypeError:  # a null cell
        return [decode_value(r) for r in raws]
    size = len(joined)
    if size == 5 * rows and joined[::5] == bytes((_FLOAT32_TAG,)) * rows:
        values = list(_column_struct(rows, "f").unpack(joined))
    elif size == 9 * rows and joined[::9] == bytes((_DOUBLE_TAG,)) * rows:
        values = list(_column_struct(rows, "d").unpack(joined))
    else:
        return [decode_value(r) for r in raws]
    if math.isfinite(math.fsum(values)):
        return values
    return [json_float(v) for v in values]


_PY_SCALARS: Final = frozenset(
    {"int64_val", "int32_val", "string_val", "bool_val", "double_val", "float_val"}
)
_python: dict[bytes, Any] = {}


def python_value(raw: bytes | None, vtype: ValueType | None) -> Any:
    """The Python value Feast hands to an on-demand transformation for stored bytes.

    That is what ``OnlineResponse.to_dict()`` holds for a ``vtype`` feature (None for a missing
    value). Plain scalars are cached by their bytes; UUID types always take Feast's conversion.
    """
    if not raw:
        return None
    if vtype in _UUID_TYPES:
        return feast_value_type_to_python_type(ValueProto.FromString(raw), vtype)
    found = _python.get(raw, _python)
    return found if found is not _python else _python_scalar(raw, vtype)


def _python_scalar(raw: bytes, vtype: ValueType | None) -> Any:
    proto = ValueProto.FromString(raw)
    which = proto.WhichOneof("val")
    if which not in _PY_SCALARS:
        return feast_value_type_to_python_type(proto, vtype)
    if len(_python) >= _CACHE_LIMIT:
        _python.clear()
    result = _python[raw] = getattr(proto, which)
    return result


_UUID_TYPES: Final = frozenset({ValueType.UUID, ValueType.TIME_UUID})


def json_float(value: float) -> float | str:
    """Return a finite float unchanged, else the protobuf JSON string for it."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


_PACK_F32: Final = struct.Struct("<f")


def _out_double(value: Any) -> float | str | None:
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        return json_float(float(value))
    raise TypeError


def _out_float32(value: Any) -> float | str | None:
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        return json_float(_PACK_F32.unpack(_PACK_F32.pack(value))[0])
    raise TypeError


def _out_int(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    raise TypeError


def _out_str(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise TypeError


def _out_bool(value: Any) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise TypeError


_OUTPUTS: Final[dict[ValueType, Callable[[Any], Any]]] = {
    ValueType.DOUBLE: _out_double,
    ValueType.FLOAT: _out_float32,
    ValueType.INT64: _out_int,
    ValueType.STRING: _out_str,
    ValueType.BOOL: _out_bool,
}


def to_json_values(values: Sequence[Any], vtype: ValueType) -> list[Any]:
    """Convert transformation outputs to the JSON values Feast's server returns.

    Plain Python scalars of the declared type take a fast path (a FLOAT output is rounded to
    32 bits as the proto does); anything else goes through Feast's own proto conversion.

    ``values`` is one output column of an on-demand transformation, ``vtype`` its declared
    type; the result is the values as Feast's server would serialize them.
    """
    convert = _OUTPUTS.get(vtype)
    if convert is not None:
        try:
            return [convert(v) for v in values]
        except (TypeError, OverflowError):
            pass  # not plain scalars of the declared type: Feast's conversion below decides
    protos = python_values_to_proto_values(list(values), vtype)
    if len(protos) != len(values):  # Feast drops non-finite floats here; keep them visible.
        return [json_float(v) if isinstance(v, float) else v for v in values]
    return [decode_value(p.SerializeToString()) for p in protos]
