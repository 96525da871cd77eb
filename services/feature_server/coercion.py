"""Request values as Feast accepts them: what it coerces correctly is coerced the same way.

Feast's server hands JSON values to ``python_values_to_proto_values``, which calls ``int()``
on an integer key and ``str()`` on a string key. So ``"1001"`` and ``1001.0`` read driver
1001 and ``1`` reads the string key ``"1"``, and the response echoes the coerced value. Where
Feast's coercion answers *wrongly* this service refuses with a message naming the row:
``1001.5`` (Feast truncates it to 1001), ``true`` (Feast reads 1), a float for a string key
(``str(1.0)`` is Python's spelling), and values Feast answers with a 500 (``null``, NaN,
``"abc"``, integers out of range). NaN and infinities (Python's ``json`` writes them for
pandas' missing values) are missing values wherever a value may be missing.
"""

from __future__ import annotations

import math
from typing import Any, Final

from feast.value_type import ValueType

from services.feature_server.encoding import EntityValueError

_RANGES: Final = {
    ValueType.INT64: (-(2**63), 2**63 - 1),
    ValueType.UNIX_TIMESTAMP: (-(2**63), 2**63 - 1),
    ValueType.INT32: (-(2**31), 2**31 - 1),
}
_NAMES: Final = {
    ValueType.INT64: "an integer (INT64)",
    ValueType.UNIX_TIMESTAMP: "an integer of epoch seconds (UNIX_TIMESTAMP)",
    ValueType.INT32: "an integer (INT32)",
    ValueType.STRING: "a string (STRING)",
}
_FLOATS: Final = frozenset({ValueType.DOUBLE, ValueType.FLOAT})


class CoercionError(EntityValueError):
    """A value Feast would answer wrongly or with a 500; ``row`` is its index in the column."""

    def __init__(self, message: str, *, row: int) -> None:
        """Name the fault (the message says what was expected and what came)."""
        super().__init__(message)
        self.row = row


def describe(value: Any) -> str:
    """How a JSON value is named in messages (``null``, ``NaN``, ``the string 'x'`` ...)."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return f"the boolean {'true' if value else 'false'}"
    if kind is float:
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return f"the number {value!r}"
    if kind is int:
        return f"the integer {value}"
    if kind is str:
        return f"the string {value!r}"
    named: dict[type, str] = {list: "a list", dict: "an object"}
    return named.get(kind, kind.__name__)


def _integer(value: Any, vtype: ValueType) -> int:
    kind = type(value)
    expected = _NAMES[vtype]
    low, high = _RANGES[vtype]
    number: int
    if kind is int:
        number = value
    elif kind is float and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif kind is float and math.isfinite(value):
        raise EntityValueError(
            f"expected {expected}, got {describe(value)} with a fraction (Feast would truncate it)"
        )
    elif kind is str:
        try:
            number = int(value)
        except ValueError:
            raise EntityValueError(f"expected {expected}, got {describe(value)}") from None
    else:
        raise EntityValueError(f"expected {expected}, got {describe(value)}")
    if not low <= number <= high:
        raise EntityValueError(f"{number} is outside the {vtype.name} range ({low} to {high})")
    return number


def _string(value: Any, vtype: ValueType) -> str:
    kind = type(value)
    if kind is str:
        return str(value)
    if kind is int:
        return str(value)
    raise EntityValueError(f"expected {_NAMES[vtype]}, got {describe(value)}")


_KEYS: Final = {
    ValueType.INT64: (int, _integer),
    ValueType.UNIX_TIMESTAMP: (int, _integer),
    ValueType.INT32: (int, _integer),
    ValueType.STRING: (str, _string),
}


def coerce_keys(values: list[Any], vtype: ValueType) -> list[Any]:
    """The entity key column as Feast reads it (see the module doc); the usual case is free.

    A column whose values all have the key's own JSON type (and, for integers, fit its
    range) is returned as is; otherwise every value is coerced. Types without a rule here
    (``BYTES``...) are returned as is and left to Feast's own serializer.

    Raises:
        CoercionError: A value Feast would answer wrongly or with a 500 (``row`` names it).
    """
    rule = _KEYS.get(vtype)
    if rule is None:
        return values
    native, coerce = rule
    kinds = set(map(type, values))
    if len(kinds) == 1 and native in kinds:
        if native is str:
            return values
        low, high = _RANGES[vtype]
        if low <= min(values) and max(values) <= high:
            return values
    out: list[Any] = []
    for row, value in enumerate(values):
        try:
            out.append(coerce(value, vtype))
        except EntityValueError as exc:
            raise CoercionError(str(exc), row=row) from None
    return out


def coerce_request_value(value: Any, vtype: ValueType) -> Any:
    """Check and normalize one request-time value for an on-demand view.

    ``vtype`` is the type the request source declares. The result is the value as the
    transformation sees it: numbers (and numeric strings) widened to float for float
    fields, integral numbers and numeric strings for integer fields, integers spelled as
    strings for string fields; NaN and infinities are missing values (None).

    Raises:
        EntityValueError: The value does not fit the declared type; the message says what fits.
    """
    if value is None:
        return None
    kind = type(value)
    if kind is float and not math.isfinite(value):
        return None
    if vtype in _FLOATS:
        if kind is float or kind is int:
            return float(value)
        if kind is str:
            try:
                number = float(value)
            except ValueError:
                raise EntityValueError(f"a number, got {describe(value)}") from None
            return number if math.isfinite(number) else None
        raise EntityValueError(f"a number, got {describe(value)}")
    if vtype in _RANGES:
        try:
            return _integer(value, vtype)
        except EntityValueError as exc:
            raise EntityValueError(f"an integer, {exc}") from None
    if vtype == ValueType.STRING:
        if kind is str or kind is int:
            return str(value)
        raise EntityValueError(f"a string, got {describe(value)}")
    if vtype == ValueType.BOOL:
        if kind is bool:
            return value
        raise EntityValueError(f"true or false, got {describe(value)}")
    return value
