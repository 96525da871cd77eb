"""The read path of ``POST /get-online-features``: validate columns, read, build Feast's response.

The response is Feast's column-oriented JSON: ``results`` (one entry per column with ``values``,
``statuses``, ``event_timestamps``) then ``metadata.feature_names`` (join keys first, then
features, then on-demand outputs). Statuses follow Feast 0.67's server: a stored value is
``PRESENT`` (even when null), a key the store does not hold is ``NOT_FOUND`` with a null value
and the epoch timestamp; join keys and on-demand outputs are ``PRESENT`` with the epoch; Feast
never returns ``OUTSIDE_MAX_AGE`` or ``NULL_VALUE`` from these reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final, cast

from feast.value_type import ValueType

from services.feature_server.coercion import (
    CoercionError,
    coerce_keys,
    coerce_request_value,
    describe,
)
from services.feature_server.encoding import (
    KEY_ENCODERS,
    EntityValueError,
    decode_column,
    encode_keys,
    feast_entity_key,
    python_value,
    to_json_values,
)
from services.feature_server.errors import ValidationError
from services.feature_server.plan import OdfvRead, ReadPlan, ViewRead
from services.feature_server.registry import Snapshot
from services.feature_server.request import OnlineRequest
from services.feature_server.response import (
    NOT_FOUND,
    PRESENT,
    ResponseBody,
    all_epoch,
    all_present,
    dumps,
)
from services.feature_server.stores import MISSING, OnlineStoreReader, Partial, Row, ViewQuery
from services.feature_server.timestamps import EPOCH


def _row_error(column: str, row: int, reason: str) -> ValidationError:
    return ValidationError(f"entity column {column!r} row {row}: {reason}", code="bad_entity_type")


def _check_values(column: str, values: list[Any], vtype: ValueType) -> None:
    encoder = KEY_ENCODERS.get(vtype)
    if encoder is None:
        return
    for i, value in enumerate(values):
        try:
            encoder(value)
        except EntityValueError as exc:
            raise _row_error(column, i, f"expected {exc}, got {describe(value)}") from exc


def _keys(read: ViewRead, columns: dict[str, list[Any]], rows: int, version: int) -> list[bytes]:
    """Serialize the entity key of every row (repeated keys stay repeated; readers cope)."""
    view = read.view
    if view.entityless:
        key = feast_entity_key(view.key_order, [""], [ValueType.STRING], version=version)
        return [key] * rows
    types = [view.key_types[k] for k in view.key_order]
    cols = [columns[c] for c in read.columns]
    if view.fast_keys:
        encoders = [KEY_ENCODERS[t] for t in types]
        prefix = view.prefix
        try:
            if len(cols) == 1:
                encoded = encode_keys(prefix, types[0], cols[0])
            else:
                encoded = [
                    prefix + b"".join(e(v) for e, v in zip(encoders, vals, strict=True))
                    for vals in zip(*cols, strict=True)
                ]
        except EntityValueError:
            for column, join_key in zip(read.columns, view.key_order, strict=True):
                _check_values(column, columns[column], view.key_types[join_key])
            raise
    else:
        for column, join_key in zip(read.columns, view.key_order, strict=True):
            _check_values(column, columns[column], view.key_types[join_key])
        try:
            encoded = [
                feast_entity_key(view.key_order, list(vals), types, version=version)
                for vals in zip(*cols, strict=True)
            ]
        except (ValueError, TypeError, OverflowError) as exc:
            names = ", ".join(f"{c!r} ({t.name})" for c, t in zip(read.columns, types, strict=True))
            raise ValidationError(
                f"entity columns {names} of feature view {view.name!r}: values do not fit "
                "the declared key types",
                code="bad_entity_type",
            ) from exc
    return encoded


@dataclass(slots=True)
class _Columns:
    """Request columns sorted into join keys (echoed in the response) and request values."""

    join: dict[str, list[Any]]
    request: dict[str, list[Any]]


def _classify(plan: ReadPlan, snapshot: Snapshot, req: OnlineRequest) -> _Columns:
    """Sort the request's columns, coercing values as Feast does (``coercion``).

    Columns that are neither join keys, entity names nor request fields are ignored, as
    Feast ignores them (clients send ``request_id``, labels and such along).
    """
    cols = _Columns(join={}, request={})
    for name, values in req.entities.items():
        if name in plan.request_fields:
            vtype = plan.request_fields[name]
            try:
                cols.request[name] = [coerce_request_value(v, vtype) for v in values]
            except EntityValueError:
                bad = next(i for i, v in enumerate(values) if _fails(v, vtype))
                try:
                    coerce_request_value(values[bad], vtype)
                except EntityValueError as exc:
                    raise _row_error(name, bad, f"expected {exc}") from exc
        elif name in snapshot.join_keys or name in plan.required:
            cols.join[name] = values
        elif name in snapshot.entity_names:
            cols.join[snapshot.entity_names[name]] = values
    for column, view in plan.required.items():
        if column not in cols.join:
            raise ValidationError(
                f"missing entity column {column!r} (needed by feature view {view!r})",
                code="missing_entity_column",
            )
    for odfv in plan.odfvs:
        for field in odfv.odfv.request_fields:
            if field not in cols.request:
                raise ValidationError(
                    f"missing request value column {field!r} "
                    f"(needed by on-demand feature view {odfv.odfv.name!r})",
                    code="missing_request_value",
                    feast_class="RequestDataNotFoundInEntityRowsException",
                )
    key_types = snapshot.key_types
    for name, values in cols.join.items():
        try:
            cols.join[name] = coerce_keys(values, key_types.get(name, ValueType.UNKNOWN))
        except CoercionError as exc:
            raise _row_error(name, exc.row, str(exc)) from exc
    return cols


def _fails(value: Any, vtype: ValueType) -> bool:
    try:
        coerce_request_value(value, vtype)
    except EntityValueError:
        return True
    return False


@dataclass(slots=True)
class ReadResult:
    """The response body and how long the store took."""

    body: bytes
    store_seconds: float


async def read_online(
    plan: ReadPlan,
    req: OnlineRequest,
    *,
    snapshot: Snapshot,
    reader: OnlineStoreReader,
    key_version: int,
) -> ReadResult:
    """Serve one request: validate entity columns, read the store, evaluate on-demand views.

    ``snapshot`` is the registry snapshot the plan came from; ``key_version`` the repo's
    ``entity_key_serialization_version``.

    Returns:
        Feast's JSON response and the store read time.

    Raises:
        ValidationError: Bad, unknown or missing columns; the message names the column.
        StoreUnavailableError: The store did not answer.
        TransformationError: An on-demand transformation failed.
    """
    cols = _classify(plan, snapshot, req)
    rows = req.rows
    queries: list[ViewQuery] = []
    key_cache: dict[tuple[bytes, tuple[str, ...]], list[bytes]] = {}
    for read in plan.views:
        cache_key = (read.view.prefix, read.columns)
        keys = key_cache.get(cache_key)
        if keys is None:
            try:
                keys = key_cache[cache_key] = _keys(read, cols.join, rows, key_version)
            except EntityValueError as exc:  # _keys re-raised after _check_values passed
                raise ValidationError(str(exc), code="bad_entity_type") from exc
        queries.append(ViewQuery(read.view, read.features, keys))
    started = time.perf_counter()
    stored = await reader.read(queries)
    store_seconds = time.perf_counter() - started

    body = ResponseBody()
    if cols.join:
        present, epochs = all_present(rows), all_epoch(rows)
        for name, values in cols.join.items():
            body.add(name, dumps(values), present, epochs)
    for read, found in zip(plan.views, stored, strict=True):
        _view_columns(read, found, rows, body)
    for odfv in plan.odfvs:
        _odfv_columns(odfv, plan, cols, stored, body, rows)
    metadata: dict[str, Any] | None = None
    if req.include_metadata:
        metadata = {
            "feature_view_metadata": [
                {"name": read.name, **({"version": read.view.version} if read.view.version else {})}
                for read in plan.views
            ]
        }
    return ReadResult(body=body.render(metadata), store_seconds=store_seconds)


def _view_columns(read: ViewRead, found: list[Row | None], rows: int, body: ResponseBody) -> None:
    """Append one column per shown feature of a view: values, statuses and timestamps.

    Rows that already hold their values for this plan (cached rows), and any few rows, give
    them as one tuple each, transposed into columns. Many fresh rows are decoded column by
    column instead (``decode_column``: one ``struct`` call for a column of floats). Statuses
    are only computed cell by cell when some cell is missing.
    """
    shown = read.shown
    if not shown:
        return
    first = next((row for row in found if row is not None), None)
    if first is None or (rows >= _BULK_ROWS and not first.holds(shown)):
        _fresh_columns(read, found, rows, body)
        return
    if None in found:
        absent = Partial((*(MISSING,) * len(shown), EPOCH))
        picked = [absent if row is None else row.pick(shown) for row in found]
    else:
        picked = [row.pick(shown) for row in cast("list[Row]", found)]
    complete = Partial not in set(map(type, picked))
    columns = list(zip(*picked, strict=True))
    stamps = dumps(columns.pop())
    if complete:
        present = all_present(rows)
        for (_, column), values in zip(read.outputs, columns, strict=True):
            body.add(column, dumps(values), present, stamps)
        return
    for (_, column), cells in zip(read.outputs, columns, strict=True):
        body.add(
            column,
            dumps([None if cell is MISSING else cell for cell in cells]),
            dumps([NOT_FOUND if cell is MISSING else PRESENT for cell in cells]),
            stamps,
        )


_NO_ROW: Final[dict[str, Any]] = {}
_BULK_ROWS: Final = 8
"""From this many rows, fresh rows are decoded column by column (below, row by row is less
work: ``decode_value`` caches by bytes)."""


def _fresh_columns(read: ViewRead, found: list[Row | None], rows: int, body: ResponseBody) -> None:
    """``_view_columns`` for rows read just now: decode each column in one go.

    The decoded values are handed back to the rows (``Row.keep``), so a cached row answers
    its next request through ``pick``.
    """
    raws = [_NO_ROW if row is None else row.raw for row in found]
    stamps_list = [EPOCH if row is None else row.ts for row in found]
    stamps = dumps(stamps_list)
    present = all_present(rows)
    columns: list[list[Any]] = []
    complete = True
    for feature, column in read.outputs:
        cells = [raw.get(feature, MISSING) for raw in raws]
        if MISSING not in cells:
            values = decode_column(cells)
            columns.append(values)
            body.add(column, dumps(values), present, stamps)
            continue
        complete = False
        decoded = decode_column([None if cell is MISSING else cell for cell in cells])
        values = [MISSING if cell is MISSING else v for cell, v in zip(cells, decoded, strict=True)]
        columns.append(values)
        body.add(
            column,
            dumps([None if v is MISSING else v for v in values]),
            dumps([NOT_FOUND if cell is MISSING else PRESENT for cell in cells]),
            stamps,
        )
    for row, picked in zip(found, zip(*columns, stamps_list, strict=True), strict=True):
        if row is not None:
            row.keep(read.shown, picked if complete else _partial(row, read.shown, picked))


def _partial(row: Row, shown: tuple[str, ...], picked: tuple[Any, ...]) -> tuple[Any, ...]:
    """The row's own picked tuple: a ``Partial`` only when this row lacks a feature."""
    return Partial(picked) if any(f not in row.raw for f in shown) else tuple(picked)


class TransformationError(RuntimeError):
    """An on-demand transformation raised or returned a malformed result."""


def _odfv_columns(
    odfv: OdfvRead,
    plan: ReadPlan,
    cols: _Columns,
    stored: list[list[Row | None]],
    body: ResponseBody,
    rows: int,
) -> None:
    """Run the on-demand view's python UDF on Feast's input dict and append its outputs."""
    spec = odfv.odfv
    inputs: dict[str, list[Any]] = {**cols.join, **cols.request}
    sources = {name for name, _ in spec.sources}
    for read, found in zip(plan.views, stored, strict=True):
        if read.view.name not in sources:
            continue
        for feature in read.features:
            vtype = read.view.feature_types.get(feature)
            column = f"{read.name}__{feature}" if plan.full_feature_names else feature
            inputs[column] = [
                None if r is None else python_value(r.raw.get(feature), vtype) for r in found
            ]
    try:
        output = _transform(spec, inputs)
    except Exception as exc:  # the UDF is user code; anything it raises is a server fault
        raise TransformationError(f"on-demand view {spec.name} failed") from exc
    for feature, column in odfv.outputs:
        values = output.get(feature)
        if values is not None and not isinstance(values, list):
            values = [values]  # singleton views return scalars; Feast wraps them the same way
        if not isinstance(values, list) or len(values) != rows:
            raise TransformationError(f"on-demand view {spec.name}: bad output {feature}")
        body.add(
            column,
            dumps(to_json_values(values, spec.feature_types[feature])),
            all_present(rows),
            all_epoch(rows),
        )


def _transform(spec: Any, inputs: dict[str, list[Any]]) -> dict[str, Any]:
    """Evaluate the UDF like ``OnDemandFeatureView.transform_dict`` (python mode, batch).

    Feast's method is type-checked at runtime (typeguard), which costs more than the UDF; the
    batch path is replayed here: both short and ``view__feature`` names are provided, then
    ``{**inputs, **udf(inputs)}``. Singleton views go through Feast's method.
    """
    view = spec.view
    if getattr(view, "singleton", False):
        result: dict[str, Any] = view.transform_dict(inputs)
        return result
    prepared = dict(inputs)
    for source, features in spec.sources:
        for feature in features:
            full = f"{source}__{feature}"
            if full in inputs:
                prepared[feature] = inputs[full]
            elif feature in inputs:
                prepared[full] = inputs[feature]
    output = view.feature_transformation.udf(prepared)
    return {**prepared, **output}
