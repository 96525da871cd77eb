"""Gated writes: ``POST /push`` and ``POST /write-to-online-store``, as Feast's server takes them.

The bodies are Feast's (``push_source_name`` or ``feature_view_name``, a column-oriented
``df``, ``to`` for pushes, ``allow_registry_cache``, ``transform_on_write``) and the write
itself is Feast's: ``FeatureStore.push`` or ``write_to_online_store`` on ``pd.DataFrame(df)``,
in a worker thread, so the online store holds exactly what ``feast serve`` would write.

Before anything is written every row is checked against the expectation suite of the view's
batch source (``services.feature_server.expectations``). A batch with one failing row is
refused whole with 422, naming each failed expectation and its rows, and the store is not
touched. A view whose source has no suite is written unchecked (``/readyz`` lists it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from services.feature_server.auth import check_role
from services.feature_server.errors import (
    ApiError,
    NotFoundError,
    RejectedWriteError,
    UnavailableError,
    ValidationError,
)
from services.feature_server.expectations import RowValidator, load_validator
from services.feature_server.registry import Snapshot, ViewSpec
from services.feature_server.request import check_content_type, flag, load_json

logger = logging.getLogger(__name__)

PUSH_ROUTE: Final = "/push"
WRITE_ROUTE: Final = "/write-to-online-store"
PUSH_MODES: Final = ("online", "offline", "online_and_offline")
_RECHECK_SECONDS: Final = 1.0


@dataclass(slots=True)
class _Cached:
    validator: RowValidator | None
    mtime: int | None
    checked: float


@dataclass(slots=True)
class Validators:
    """The compiled suite of each source, recompiled when its file changes (checked each 1 s)."""

    repo: Path
    _cache: dict[str, _Cached] = field(default_factory=dict)

    def get(self, source: str) -> RowValidator | None:
        """The validator of a source's suite, or None when the source has no suite.

        Raises:
            ServerConfigError: The suite file is malformed.
        """
        now = time.monotonic()
        found = self._cache.get(source)
        if found is not None and now - found.checked < _RECHECK_SECONDS:
            return found.validator
        path = self.repo / "expectations" / f"{source}.json"
        try:
            mtime: int | None = path.stat().st_mtime_ns
        except OSError:
            mtime = None
        if found is None or found.mtime != mtime:
            found = _Cached(load_validator(self.repo, source), mtime, now)
            self._cache[source] = found
        found.checked = now
        return found.validator


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """A parsed push or write body.

    Attributes:
        target: Push source or feature view name.
        columns: The ``df`` columns.
        rows: Rows per column.
        to: Push mode (``online``, ``offline``, ``online_and_offline``); ``online`` for writes.
        allow_registry_cache: Feast's flag, passed on.
        transform_on_write: Feast's flag, passed on.
    """

    target: str
    columns: dict[str, list[Any]]
    rows: int
    to: str
    allow_registry_cache: bool
    transform_on_write: bool


def parse_write(body: bytes, *, push: bool, max_rows: int) -> WriteRequest:
    """Parse a push (``push``) or write body.

    Raises:
        BadRequestError: Not JSON.
        ValidationError: A field is missing or of the wrong shape; the message names it.
    """
    data = load_json(body)
    if type(data) is not dict:
        raise ValidationError("request body must be a JSON object")
    name_field = "push_source_name" if push else "feature_view_name"
    target = data.get(name_field)
    if type(target) is not str or not target:
        raise ValidationError(f"{name_field!r} must be a non-empty string")
    df = data.get("df")
    if type(df) is not dict or not df:
        raise ValidationError("'df' must be a non-empty object of column name to list")
    rows = -1
    for column, values in df.items():
        if type(values) is not list:
            raise ValidationError(f"'df' column {column!r} must be a list")
        if rows < 0:
            rows, first = len(values), column
        elif len(values) != rows:
            raise ValidationError(
                f"'df' columns differ in length: {first!r} has {rows} rows, "
                f"{column!r} has {len(values)}",
                code="column_lengths",
            )
    if rows > max_rows:
        raise ValidationError(
            f"{rows} rows exceed the limit of {max_rows} per write", code="too_many_rows"
        )
    to = data.get("to", "online") if push else "online"
    if to not in PUSH_MODES:
        raise ValidationError(f"'to' must be one of {', '.join(PUSH_MODES)}, got {to!r}")
    return WriteRequest(
        target=target,
        columns=df,
        rows=rows,
        to=str(to),
        allow_registry_cache=flag("allow_registry_cache", data.get("allow_registry_cache", True)),
        transform_on_write=flag("transform_on_write", data.get("transform_on_write", True)),
    )


def target_views(snapshot: Snapshot, request: WriteRequest, *, push: bool) -> list[ViewSpec]:
    """The views a push or write lands in.

    Raises:
        ApiError: An unknown push source (422, Feast's ``PushSourceNotFoundException``) or
            feature view (404, Feast's ``FeastObjectNotFoundException``).
    """
    if push:
        views = [v for v in snapshot.views.values() if v.push_source == request.target]
        if not views:
            raise ApiError(
                f"push source {request.target!r} not found: no feature view reads it",
                status=422,
                code="unknown_push_source",
                feast_class="PushSourceNotFoundException",
            )
        return views
    view = snapshot.views.get(request.target)
    if view is None:
        raise NotFoundError(
            f"feature view {request.target!r} not found",
            code="unknown_feature_view",
            feast_class="FeastObjectNotFoundException",
        )
    return [view]


def gate(validators: Validators, views: list[ViewSpec], request: WriteRequest) -> None:
    """Refuse the whole batch if any row fails a critical expectation of a view's suite.

    Raises:
        RejectedWriteError: The failures, by expectation and row (also in ``details``).
    """
    seen: set[str] = set()
    problems: list[Any] = []
    for view in views:
        source = view.batch_source
        if not source or source in seen:
            continue
        seen.add(source)
        validator = validators.get(source)
        if validator is None:
            continue
        failures = validator.validate(request.columns, request.rows)
        for failure in failures:
            if failure.severity != "critical":
                logger.warning("write to %s: %s (not critical)", request.target, failure.describe())
        problems.extend((source, f) for f in failures if f.severity == "critical")
    if not problems:
        return
    rows = sorted({r for _, f in problems for r in f.rows})
    sources = sorted({s for s, _ in problems})
    listed = "; ".join(f.describe() for _, f in problems)
    error = RejectedWriteError(
        f"nothing written: {len(rows)} of {request.rows} rows fail the expectations of "
        f"{', '.join(repr(s) for s in sources)}: {listed}"
    )
    error.details = {"failures": [{"source": s, **f.to_json()} for s, f in problems]}
    raise error


def feast_write(store: Any, request: WriteRequest, *, push: bool) -> None:
    """Write through Feast exactly as ``feast serve`` does (runs in a worker thread)."""
    import pandas as pd
    from feast.data_source import PushMode

    frame = pd.DataFrame(request.columns)
    if push:
        mode = {
            "online": PushMode.ONLINE,
            "offline": PushMode.OFFLINE,
            "online_and_offline": PushMode.ONLINE_AND_OFFLINE,
        }[request.to]
        store.push(
            push_source_name=request.target,
            df=frame,
            allow_registry_cache=request.allow_registry_cache,
            to=mode,
            transform_on_write=request.transform_on_write,
        )
    else:
        store.write_to_online_store(
            feature_view_name=request.target,
            df=frame,
            allow_registry_cache=request.allow_registry_cache,
            transform_on_write=request.transform_on_write,
        )


async def handle_write(
    state: Any,
    *,
    push: bool,
    headers: Iterable[tuple[bytes, bytes]],
    body: Callable[[], Awaitable[bytes]],
) -> bytes:
    """Serve a push or write: auth, parse, gate, then Feast's write; the reply body.

    Raises:
        ApiError: Refused (auth, shape, unknown target, failed expectations: 422).
        FeastWriteError: Feast's write raised (mapped by the caller).
    """
    key = state.keys.authenticate(headers)
    check_role(key, "write", action="push" if push else "write to the online store")
    check_content_type(headers)
    request = parse_write(await body(), push=push, max_rows=state.settings.max_write_rows)
    snapshot = state.watcher.snapshot
    store = state.watcher.store
    if snapshot is None or store is None:
        raise UnavailableError("feature registry not loaded yet", code="registry_unavailable")
    views = target_views(snapshot, request, push=push)
    gate(state.validators, views, request)
    async with state.write_lock:
        await asyncio.to_thread(feast_write, store, request, push=push)
    return b"" if push else b"null"
